"""Read-side queries for lists and inspection; no rules here."""
from __future__ import annotations

import json
import zlib

import sqlalchemy as sa

from engine.errors import NotFound
from engine.store.tables import definitions, events, human_tasks, instances, jobs, messages, user_roles, users
from engine.views import EventView, InstanceView, TaskView


def task_view(r) -> TaskView:
    return TaskView(r.task_id, r.instance_id, r.bpmn_id, r.name, r.role, r.court, r.case_no, r.claimed_by,
                    r.due_at, r.due_provisional)


def tasks(conn, *, username: str | None = None, instance_id: int | None = None, case_no: str | None = None,
          court: str | None = None, role: str | None = None, limit: int = 200) -> list[TaskView]:
    """Open human tasks; with ``username``, only those of the user's roles in the user's courts."""
    q = sa.select(human_tasks)
    if username:
        grants = sa.select(user_roles.c.court, user_roles.c.role).join(users, users.c.id == user_roles.c.user_id) \
            .where(users.c.username == username).subquery()
        q = q.join(grants, sa.and_(grants.c.court == human_tasks.c.court, grants.c.role == human_tasks.c.role))
    for column, value in ((human_tasks.c.instance_id, instance_id), (human_tasks.c.case_no, case_no),
                          (human_tasks.c.court, court), (human_tasks.c.role, role)):
        if value is not None:
            q = q.where(column == value)
    q = q.order_by(human_tasks.c.due_at.is_(None), human_tasks.c.due_at, human_tasks.c.created_at).limit(limit)
    return [task_view(r) for r in conn.execute(q)]


def instance(conn, instance_id: int) -> InstanceView:
    row = conn.execute(sa.select(instances, definitions.c.version.label("definition_version"))
                       .join(definitions, definitions.c.id == instances.c.definition_id)
                       .where(instances.c.id == instance_id)).first()
    if row is None:
        raise NotFound(f"instance {instance_id} does not exist")
    open_tasks = conn.execute(sa.select(human_tasks.c.bpmn_id).where(human_tasks.c.instance_id == instance_id)
                              .order_by(human_tasks.c.bpmn_id)).scalars().all()
    return InstanceView(row.id, row.process_id, row.definition_version, row.case_no, row.court, row.status,
                        tuple(open_tasks))


def instances_of_case(conn, case_no: str) -> list[InstanceView]:
    ids = conn.execute(sa.select(instances.c.id).where(instances.c.case_no == case_no)
                       .order_by(instances.c.id)).scalars().all()
    return [instance(conn, i) for i in ids]


def instance_data(conn, instance_id: int) -> dict:
    """The case data as the last completed step left it (what a supervisor sees as 'variables')."""
    row = conn.execute(sa.select(instances.c.state).where(instances.c.id == instance_id)).first()
    if row is None:
        raise NotFound(f"instance {instance_id} does not exist")
    state = json.loads(zlib.decompress(row.state))
    data = dict(state.get("data") or {})
    tasks_by_id = state["tasks"]
    last = state.get("last_task")
    chain = []
    while last:     # task data is stored as deltas against the parent: replay root → last
        chain.append(tasks_by_id[last])
        last = tasks_by_id[last].get("parent")
    for task in reversed(chain):
        data.update(task.get("data") or {})      # full data where the serializer kept it, else a delta
        delta = task.get("delta") or {}
        data.update(delta.get("updates") or {})
        for key in delta.get("deletions") or []:
            data.pop(key, None)
    return data


def jobs_list(conn, *, status: str | None = None, kind: str | None = None, instance_id: int | None = None,
              limit: int = 500):
    q = sa.select(jobs)
    for column, value in ((jobs.c.status, status), (jobs.c.kind, kind), (jobs.c.instance_id, instance_id)):
        if value is not None:
            q = q.where(column == value)
    return conn.execute(q.order_by(jobs.c.due_at, jobs.c.id).limit(limit)).all()


def inbox(conn, status: str = "unmatched"):
    return conn.execute(sa.select(messages).where(messages.c.status == status).order_by(messages.c.id)).all()


def event_log(conn, instance_id: int) -> list[EventView]:
    rows = conn.execute(sa.select(events).where(events.c.instance_id == instance_id).order_by(events.c.seq))
    return [EventView(r.seq, r.at, r.actor, r.action, r.bpmn_id, r.data) for r in rows]


def deployed(conn):
    counts = sa.select(instances.c.definition_id, sa.func.count().label("n")) \
        .where(instances.c.status.in_(("running", "suspended"))).group_by(instances.c.definition_id).subquery()
    return conn.execute(sa.select(definitions.c.process_id, definitions.c.version, definitions.c.name,
                                  definitions.c.created_at, sa.func.coalesce(counts.c.n, 0).label("running"))
                        .outerjoin(counts, counts.c.definition_id == definitions.c.id)
                        .order_by(definitions.c.process_id, definitions.c.version)).all()
