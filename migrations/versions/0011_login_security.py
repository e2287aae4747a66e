"""login security: the sign-in log (failed logins, lockouts lifted, logouts) and a session epoch per user

``auth_events`` is the audit trail of sign-ins; the lockout counts its failures (engine/workspaces/lockout.py).
``users.session_epoch`` is copied into each session at login and checked on every request: raising it (logout,
password reset, deactivation) ends every session of the user, copied cookies included.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auth_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_events'))
    )
    op.create_index(op.f('ix_auth_events_at'), 'auth_events', ['at'], unique=False)
    op.create_index(op.f('ix_auth_events_username_at'), 'auth_events', ['username', 'at'], unique=False)
    op.create_index(op.f('ix_auth_events_client_at'), 'auth_events', ['client', 'at'], unique=False)
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_epoch')
    op.drop_index(op.f('ix_auth_events_client_at'), table_name='auth_events')
    op.drop_index(op.f('ix_auth_events_username_at'), table_name='auth_events')
    op.drop_index(op.f('ix_auth_events_at'), table_name='auth_events')
    op.drop_table('auth_events')
