"""the case file (案卷): one row per case (cases), its typed append-only records (case_records), instances.case_id

Existing data is migrated: a case row for every (court, case number) of the instances, its header from the
queryable fields of its first instance, and the records the handlers' results in the execution log produce
(``service_completed`` events, read through the handlers' own declarations, engine/kernel/casefile.py).

Revision ID: 0013
Revises: 0012
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("court", sa.String(32), nullable=False),
        sa.Column("case_no", sa.String(64), nullable=False),
        sa.Column("case_type", sa.String(8)),
        sa.Column("main_instance_id", sa.Integer),
        sa.Column("process_id", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(64)),
        sa.Column("applicant_name", sa.String(255)),
        sa.Column("applicant_id", sa.String(64)),
        sa.Column("debtor_name", sa.String(255)),
        sa.Column("debtor_id", sa.String(64)),
        sa.Column("debtor_kind", sa.String(32)),
        sa.Column("basis", sa.String(255)),
        sa.Column("amount", sa.String(32)),
        sa.Column("owner", sa.String(64)),
        sa.Column("track", sa.String(32)),
        sa.Column("closing_mode", sa.String(32)),
        sa.Column("filed_on", sa.Date),
        sa.Column("term_due_on", sa.Date),
        sa.Column("closed_on", sa.Date),
        sa.Column("record_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("court", "case_no", name="uq_cases_court_case_no"),
    )
    op.create_index("ix_cases_court_status_updated_at", "cases", ["court", "status", "updated_at"])
    op.create_table(
        "case_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("source", sa.String(128)),
        sa.Column("instance_id", sa.Integer),
        sa.Column("task_id", sa.String(36)),
        sa.Column("job_id", sa.Integer),
        sa.Column("event_seq", sa.Integer),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_case_records_case_id_kind_id", "case_records", ["case_id", "kind", "id"])
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("case_id", sa.Integer))
        batch.create_index("ix_instances_case_id", ["case_id"])
    _migrate_data(op.get_bind())


def _migrate_data(conn) -> None:
    from engine.kernel.casefile import records_from_result
    from engine.store.casefile import RecordInvalid, header_values
    from engine.store.tables import case_records, cases, events, instances

    rows = conn.execute(sa.select(instances.c.id, instances.c.court, instances.c.case_no, instances.c.process_id,
                                  instances.c.status, instances.c.stage, instances.c.fields, instances.c.started_at,
                                  instances.c.updated_at).order_by(instances.c.id)).all()
    if not rows:
        return
    try:
        import handlers.enforcement  # noqa: F401  registers every operator with its record declarations
        from handlers import REGISTRY
    except Exception:       # pragma: no cover - a deployment without the handlers: cases only
        REGISTRY = None
    ids: dict = {}
    for r in rows:
        key = (r.court, r.case_no)
        if key not in ids:
            fields = r.fields if isinstance(r.fields, dict) else json.loads(r.fields or "{}")
            status = {"completed": "closed", "terminated": "terminated"}.get(r.status, "open")
            ids[key] = conn.execute(cases.insert().values(
                court=r.court, case_no=r.case_no, main_instance_id=r.id, process_id=r.process_id, status=status,
                stage=r.stage, record_count=0, opened_at=r.started_at, updated_at=r.updated_at,
                **header_values(fields))).inserted_primary_key[0]
        conn.execute(instances.update().where(instances.c.id == r.id).values(case_id=ids[key]))
    if REGISTRY is None:
        return
    by_instance = {r.id: (ids[(r.court, r.case_no)], r.case_no) for r in rows}
    for ev in conn.execute(sa.select(events.c.instance_id, events.c.seq, events.c.task_id, events.c.data,
                                     events.c.at).where(events.c.action == "service_completed")
                           .order_by(events.c.id)).all():
        data = ev.data if isinstance(ev.data, dict) else json.loads(ev.data or "{}")
        spec = REGISTRY.get(data.get("operator") or "")
        if spec is None or ev.instance_id not in by_instance:
            continue
        case_id, case_no = by_instance[ev.instance_id]
        try:
            produced = records_from_result(spec, data.get("result") or {}, case_no)
        except RecordInvalid:
            continue
        for kind, body in produced:
            conn.execute(case_records.insert().values(
                case_id=case_id, kind=kind, body=body, via="migration", source=spec.name, instance_id=ev.instance_id,
                task_id=ev.task_id, event_seq=ev.seq, actor="system", recorded_at=ev.at))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_index("ix_instances_case_id")
        batch.drop_column("case_id")
    op.drop_table("case_records")
    op.drop_table("cases")
