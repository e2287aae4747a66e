"""one subscription row per message of a multiple catch or event-based gateway

A task waiting on several messages (event-based gateway) has one subscription per message, keyed
``<task id>/<message name>``, longer than a task UUID.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscriptions') as batch:
        batch.alter_column('task_id', existing_type=sa.String(length=36), type_=sa.String(length=200),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('subscriptions') as batch:
        batch.alter_column('task_id', existing_type=sa.String(length=200), type_=sa.String(length=36),
                           existing_nullable=False)
