"""indexes for the supervisors' lists and dashboard (idle cases, backlog by stage, cases past their term, cases
of an officer, part of a case number)

``ix_instances_term_due_on`` and ``ix_instances_owner`` index expressions over the JSON ``fields``;
``engine/workspaces/supervision.py`` (``CaseField``) writes the same expressions in its queries, which is what lets the
database use them.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# case fields the supervisors filter on, as expressions over the JSON ``fields`` (engine.workspaces.supervision.CaseField)
CASE_FIELD = {
    "sqlite": "json_extract(fields, '$.{name}')",
    "postgresql": "(fields ->> '{name}')",
}


def upgrade() -> None:
    op.create_index(op.f('ix_instances_court_status_updated_at'), 'instances', ['court', 'status', 'updated_at'])
    op.create_index(op.f('ix_instances_court_status_definition_id_stage'), 'instances',
                    ['court', 'status', 'definition_id', 'stage'])
    op.create_index(op.f('ix_instances_court_case_no'), 'instances', ['court', 'case_no'])
    field = CASE_FIELD.get(op.get_bind().dialect.name)
    if field:
        op.execute(f"CREATE INDEX ix_instances_term_due_on ON instances "
                   f"(court, status, ({field.format(name='term_due_on')}))")
        op.execute(f"CREATE INDEX ix_instances_owner ON instances (court, ({field.format(name='owner')}))")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_instances_owner")
    op.execute("DROP INDEX IF EXISTS ix_instances_term_due_on")
    op.drop_index(op.f('ix_instances_court_case_no'), table_name='instances')
    op.drop_index(op.f('ix_instances_court_status_definition_id_stage'), table_name='instances')
    op.drop_index(op.f('ix_instances_court_status_updated_at'), table_name='instances')
