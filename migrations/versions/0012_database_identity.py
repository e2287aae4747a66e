"""database identity: one row naming this database, so state kept outside it (the sandboxes' memory) is kept per
database and a fresh database meets a fresh world

The id is random and made once, when the migration runs: a new database gets a new one, a restored backup keeps
the one it had (``engine.store.identity``).

Revision ID: 0012
Revises: 0011
"""
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'database_identity',
        sa.Column('id', sa.String(32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_database_identity')),
    )
    op.bulk_insert(table, [{"id": uuid.uuid4().hex,
                            "created_at": datetime.now(UTC).replace(tzinfo=None)}])


def downgrade() -> None:
    op.drop_table('database_identity')
