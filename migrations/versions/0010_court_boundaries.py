"""court boundaries (法院边界): the inbox records the sender's court and case; relations between cases are recorded

Revision ID: 0010
Revises: 0009

``messages.court`` / ``messages.sender_case``: a kept message is delivered later only to a case of that court or
of a court the sender's case is related to. Messages kept before this revision get the court of the case they
were held for, if any; an unmatched one without a court is never delivered automatically (an administrator
re-sends it). ``case_relations``: one row per link between two cases, written by the engine only (the relations
kept so far in ``instances.related_case_no`` are copied over).
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("court", sa.String(32)))
    op.add_column("messages", sa.Column("sender_case", sa.String(64)))
    op.execute("UPDATE messages SET court = (SELECT i.court FROM instances i WHERE i.id = messages.delivered_to) "
               "WHERE delivered_to IS NOT NULL")
    op.create_table(
        "case_relations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_no", sa.String(64), nullable=False),
        sa.Column("court", sa.String(32), nullable=False),
        sa.Column("related_case_no", sa.String(64), nullable=False),
        sa.Column("related_court", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("instance_id", sa.Integer),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("case_no", "related_case_no", name="uq_case_relations_case_no_related_case_no"),
    )
    op.create_index("ix_case_relations_related_case_no", "case_relations", ["related_case_no"])
    op.execute(
        "INSERT INTO case_relations (case_no, court, related_case_no, related_court, kind, instance_id, recorded_by,"
        " recorded_at) "
        "SELECT i.case_no, i.court, i.related_case_no, MIN(r.court), 'migrated', MIN(i.id), 'migration', "
        "MIN(i.started_at) FROM instances i JOIN instances r ON r.case_no = i.related_case_no "
        "WHERE i.related_case_no IS NOT NULL GROUP BY i.case_no, i.court, i.related_case_no")


def downgrade() -> None:
    op.drop_table("case_relations")
    op.drop_column("messages", "sender_case")
    op.drop_column("messages", "court")
