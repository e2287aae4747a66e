"""designers' drafts: a working copy of a deployment set per draft

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('design_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=128), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('main_file', sa.String(length=255), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_design_drafts'))
    )
    op.create_table('design_draft_files',
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['design_drafts.id'], name=op.f('fk_design_draft_files_draft_id')),
    sa.PrimaryKeyConstraint('draft_id', 'name', name=op.f('pk_design_draft_files'))
    )


def downgrade() -> None:
    op.drop_table('design_draft_files')
    op.drop_table('design_drafts')
