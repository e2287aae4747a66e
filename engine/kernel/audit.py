"""The execution log (执行日志, 全程留痕): append-only, hash-chained per instance.

Each event's hash covers its content and the previous event's hash, so editing, deleting or reordering any
event breaks every later hash. The head of each chain (``last_seq``, ``last_hash``) lives on the instance row,
which the writing transaction updates anyway: appending costs one INSERT, no extra read.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from engine.store.tables import events, instances, office_events

GENESIS = "0" * 64


def event_hash(prev_hash: str, instance_id: int, seq: int, at: datetime, actor: str, action: str,
               task_id: str | None, bpmn_id: str | None, data) -> str:
    body = json.dumps([instance_id, seq, at.isoformat(), actor, action, task_id, bpmn_id, data],
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def event_row(instance_id: int, case_no: str, seq: int, prev_hash: str, at: datetime, actor: str, action: str,
              task_id: str | None = None, bpmn_id: str | None = None, data=None) -> dict:
    data = _jsonable(data or {})
    digest = event_hash(prev_hash, instance_id, seq, at, actor, action, task_id, bpmn_id, data)
    return dict(instance_id=instance_id, case_no=case_no, seq=seq, at=at, actor=actor, action=action,
                task_id=task_id, bpmn_id=bpmn_id, data=data, prev_hash=prev_hash, hash=digest)


def _jsonable(data):
    return json.loads(json.dumps(data, default=str))


@dataclass(frozen=True)
class ChainReport:
    instance_id: int
    events: int
    ok: bool
    problem: str = ""

    def __str__(self) -> str:
        state = "ok" if self.ok else f"BROKEN: {self.problem}"
        return f"instance {self.instance_id}: {self.events} events, {state}"


def verify(conn: sa.Connection, instance_id: int) -> ChainReport:
    """Recompute the chain of one instance and compare it with the stored hashes and the instance's head."""
    rows = conn.execute(sa.select(events).where(events.c.instance_id == instance_id).order_by(events.c.seq)).all()
    head = conn.execute(sa.select(instances.c.last_seq, instances.c.last_hash)
                        .where(instances.c.id == instance_id)).first()
    prev, expected_seq = GENESIS, 1
    for row in rows:
        if row.seq != expected_seq:
            return ChainReport(instance_id, len(rows), False, f"event #{expected_seq} is missing")
        if row.prev_hash != prev:
            return ChainReport(instance_id, len(rows), False, f"event #{row.seq} does not follow #{row.seq - 1}")
        digest = event_hash(prev, row.instance_id, row.seq, row.at, row.actor, row.action, row.task_id,
                            row.bpmn_id, row.data)
        if digest != row.hash:
            return ChainReport(instance_id, len(rows), False, f"event #{row.seq} ({row.action}) was altered")
        prev, expected_seq = row.hash, expected_seq + 1
    if head is not None and (head.last_seq != len(rows) or head.last_hash != prev):
        return ChainReport(instance_id, len(rows), False, "the last events were removed or the head was altered")
    return ChainReport(instance_id, len(rows), True)


def verify_all(conn: sa.Connection) -> list[ChainReport]:
    ids = conn.execute(sa.select(instances.c.id).order_by(instances.c.id)).scalars().all()
    return [verify(conn, i) for i in ids]


# -- the office log: writes that are not steps of a case ------------------------------------------------------
def office_hash(prev_hash: str, at: datetime, actor: str, action: str, court: str | None, subject: str,
                data) -> str:
    body = json.dumps([at.isoformat(), actor, action, court, subject, data], sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append_office_event(conn: sa.Connection, at: datetime, actor: str, action: str, court: str | None,
                        subject: str, data=None) -> None:
    """Append to the office chain; a writer that read the same head meanwhile fails on the unique prev_hash."""
    prev = conn.execute(sa.select(office_events.c.hash).order_by(office_events.c.id.desc()).limit(1)).scalar()
    data = _jsonable(data or {})
    prev = prev or GENESIS
    conn.execute(office_events.insert().values(
        at=at, actor=actor, action=action, court=court, subject=subject[:128], data=data, prev_hash=prev,
        hash=office_hash(prev, at, actor, action, court, subject[:128], data)))


def verify_office(conn: sa.Connection) -> ChainReport:
    """Recompute the office chain (reported as instance 0)."""
    rows = conn.execute(sa.select(office_events).order_by(office_events.c.id)).all()
    prev = GENESIS
    for number, row in enumerate(rows, 1):
        if row.prev_hash != prev:
            return ChainReport(0, len(rows), False, f"office event #{number} does not follow #{number - 1}")
        if office_hash(prev, row.at, row.actor, row.action, row.court, row.subject, row.data) != row.hash:
            return ChainReport(0, len(rows), False, f"office event #{number} ({row.action}) was altered")
        prev = row.hash
    return ChainReport(0, len(rows), True)
