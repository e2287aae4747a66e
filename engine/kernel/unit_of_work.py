"""One transaction around one command: load an instance, let the command act, save it with projections and log.

This is the only place that writes instance rows. ``save`` serializes the workflow, bumps ``version`` with an
optimistic check (``UPDATE … WHERE version = :loaded``: a lost update is impossible, the loser gets
``ConcurrentModification``), brings the projection tables in step by diffing the snapshots taken at load and at
save, queues thrown messages as jobs, and appends the events of the command to the hash chain.

Inside ``batched()`` (a sweep firing the timers of many instances in one transaction) the writes of every save are
kept and run at the end, one executemany per kind of statement, so a batch costs a handful of round trips.
"""
from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engine.court.boundaries import may_deliver
from engine.court.courts import settings_for
from engine.errors import ConcurrentModification, NotFound
from engine.kernel import runtime
from engine.kernel.audit import GENESIS, event_row
from engine.kernel.serialization import SERIALIZER_VERSION, STATE_VERSION, dump_state, load_state, new_workflow
from engine.legaltime.timers import compute_deadline
from engine.store.casefile import HEADER, header_values
from engine.store.database import inserted_id
from engine.store.tables import (
    case_records,
    cases,
    definitions,
    events,
    human_tasks,
    instances,
    jobs,
    messages,
    subscriptions,
)

# hot-path statements, built once (building and cache-keying a statement costs as much as running it)
_LOAD_ROW = sa.select(*[c for c in instances.c if c.name != "state"]).where(instances.c.id == sa.bindparam("id"))
_LOAD_STATE = sa.select(instances.c.state).where(instances.c.id == sa.bindparam("id"))
_LOAD_ALL = sa.select(instances).where(instances.c.id == sa.bindparam("id"))
_SAVE = instances.update().where(instances.c.id == sa.bindparam("w_id"),
                                 instances.c.version == sa.bindparam("w_version"))
_LATEST = sa.select(definitions.c.id).where(definitions.c.process_id == sa.bindparam("process_id")) \
    .order_by(definitions.c.version.desc()).limit(1)
_DELETE_HUMAN = human_tasks.delete().where(human_tasks.c.task_id == sa.bindparam("task_id"))
_DELETE_JOBS = jobs.delete().where(jobs.c.instance_id == sa.bindparam("instance_id"),
                                   jobs.c.task_id == sa.bindparam("task_id"), jobs.c.kind != "message")
_MOVE_TIMER = jobs.update().where(jobs.c.instance_id == sa.bindparam("w_instance"),
                                  jobs.c.task_id == sa.bindparam("w_task"), jobs.c.kind == "timer")
_DELETE_SUBS = subscriptions.delete().where(subscriptions.c.task_id == sa.bindparam("task_id"))
_UNMATCHED = sa.select(messages).where(
    messages.c.status == "unmatched",
    sa.tuple_(messages.c.name, messages.c.correlation_key).in_(sa.bindparam("waits", expanding=True))
).order_by(messages.c.id)
_INSERT = {table.name: table.insert() for table in (instances, human_tasks, jobs, subscriptions, events,
                                                    case_records)}
_FIND_CASE = sa.select(cases.c.id).where(cases.c.court == sa.bindparam("court"),
                                         cases.c.case_no == sa.bindparam("case_no"))
_CASE_STAGE = cases.update().where(cases.c.id == sa.bindparam("w_case"),
                                   cases.c.main_instance_id == sa.bindparam("w_instance"))
_CASE_HEADER: dict = {}         # the columns it sets -> the statement

SETTINGS_TTL_S = 60.0
DEFAULT_RETRIES = 3          # attempts after the first one, unless the diagram says otherwise
DEFAULT_BACKOFF_S = 10       # first retry delay; doubles on each further attempt


@dataclass(frozen=True)
class Definition:
    id: int
    process_id: str
    version: int
    spec_json: str
    meta: dict

    @property
    def label(self) -> str:
        return f"{self.process_id}@{self.version}"


@dataclass
class InstanceHandle:
    id: int
    definition: Definition
    case_no: str
    court: str
    status: str
    version: int
    last_seq: int
    last_hash: str
    workflow: Any
    before: runtime.Snapshot
    parent_id: int | None = None
    stage: str | None = None
    related_case_no: str | None = None
    new_events: list = field(default_factory=list)
    fields: dict = field(default_factory=dict)
    case_id: int | None = None
    pending_records: list = field(default_factory=list)   # case-file records of this step, written by ``save``
    stored_records: list | None = None                    # the case's records as stored (read once, when needed)


def case_fields(data: dict, names, current: dict) -> dict:
    """The process's ``caseFields`` as the case data has them now, over the values kept so far (a field that a
    parallel branch does not carry keeps its last value). Values that are not plain JSON are shown as text."""
    if not names:
        return current
    fields = dict(current)
    for name in names:
        if name in data:
            value = data[name]
            fields[name] = value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
    return fields


class UnitOfWork:
    def __init__(self, conn: sa.Connection, now: datetime, definition_cache: dict, instance_cache=None,
                 settings_cache: dict | None = None, database_id: str | None = None):
        self.conn = conn
        self.now = now
        self.database_id = database_id          # handed to handlers (``HandlerContext.database_id``)
        self._definitions = definition_cache
        self._settings = {} if settings_cache is None else settings_cache
        self._instances = instance_cache
        self.saved: list[InstanceHandle] = []   # handed back to the instance cache after the commit
        self._prefetched: dict = {}             # instance rows read ahead for a batch
        self._pending: dict = {}                # statement -> rows, while a batch defers its writes
        self._batching = False

    # -- definitions -------------------------------------------------------------------------------------
    def definition(self, definition_id: int) -> Definition:
        found = self._definitions.get(definition_id)
        if found is None:
            row = self.conn.execute(sa.select(definitions).where(definitions.c.id == definition_id)).first()
            if row is None:
                raise NotFound(f"definition {definition_id} does not exist")
            found = Definition(row.id, row.process_id, row.version, row.spec_json, row.meta)
            self._definitions[definition_id] = found
        return found

    def latest_definition(self, process_id: str, version: int | None = None) -> Definition:
        if version:
            definition_id = self.conn.execute(sa.select(definitions.c.id).where(
                definitions.c.process_id == process_id, definitions.c.version == version)).scalar()
        else:
            definition_id = self.conn.execute(_LATEST, {"process_id": process_id}).scalar()
        if definition_id is None:
            which = f"{process_id}@{version}" if version else process_id
            raise NotFound(f"process '{which}' is not deployed; run `zhixing deploy` first")
        return self.definition(definition_id)

    def court_settings(self, court: str) -> dict:
        """The court's settings, re-read at most once a minute (an admin may change them in another process)."""
        cached = self._settings.get(court)
        if cached is None or time.monotonic() - cached[0] > SETTINGS_TTL_S:
            cached = (time.monotonic(), settings_for(self.conn, court))
            self._settings[court] = cached
        return copy.deepcopy(cached[1])

    # -- instances ---------------------------------------------------------------------------------------
    def create(self, definition: Definition, case_no: str, court: str, parent_id: int | None = None,
               related_case_no: str | None = None) -> InstanceHandle:
        result = self.conn.execute(_INSERT["instances"], dict(
            definition_id=definition.id, process_id=definition.process_id, case_no=case_no, court=court,
            status="running", parent_id=parent_id, related_case_no=related_case_no, version=0, state=b"",
            serializer_version=SERIALIZER_VERSION,
            state_version=STATE_VERSION, fields={}, last_seq=0, last_hash=GENESIS, started_at=self.now,
            updated_at=self.now))
        workflow = new_workflow(definition.spec_json, runtime.ScriptEngine())
        handle = InstanceHandle(inserted_id(result), definition, case_no, court, "running", 0, 0,
                                GENESIS, workflow, runtime.Snapshot(), parent_id, None, related_case_no)
        self._bind_case(handle)
        return handle

    # -- the case file --------------------------------------------------------------------------------------
    def open_case(self, handle: InstanceHandle, data: dict) -> int:
        """The case row of the handle's case (court + number), created with its header from ``data`` by the
        first instance of the case, which then owns its stage and status."""
        case_id = self.conn.execute(_FIND_CASE, {"court": handle.court, "case_no": handle.case_no}).scalar()
        if case_id is None:
            from engine.court.courts import CASE_NUMBER
            match = CASE_NUMBER.match(handle.case_no or "")
            case_id = inserted_id(self.conn.execute(cases.insert().values(
                court=handle.court, case_no=handle.case_no, case_type=match.group(3) if match else None,
                main_instance_id=handle.id, process_id=handle.definition.process_id, status="open",
                record_count=0, opened_at=self.now, updated_at=self.now, **header_values(data))
            ))
        handle.case_id = case_id
        return case_id

    def add_records(self, handle: InstanceHandle, produced, *, via: str, source: str | None, actor: str,
                    task_id: str | None = None, job_id: int | None = None) -> None:
        """Queue checked ``(kind, body)`` records of this step; the next event logged is the one that produced
        them (its ``seq`` is stamped on them), ``save`` writes them."""
        for kind, body in produced:
            handle.pending_records.append(dict(
                case_id=handle.case_id, kind=kind, body=body, via=via, source=source, instance_id=handle.id,
                task_id=task_id, job_id=job_id, event_seq=None, actor=actor, recorded_at=self.now))

    def _bind_case(self, handle: InstanceHandle) -> None:
        """Let the handle's diagrams read ``case`` (the stored records are read once per step, when first used)."""
        from engine.kernel.casefile import CaseFacts, LazyFacts, Record, load_header, load_records
        conn = self.conn

        def source():
            if handle.stored_records is None:
                handle.stored_records = (load_records(conn, handle.case_id), load_header(conn, handle.case_id))
            records, header = handle.stored_records
            pending = [Record(None, r["kind"], r["body"]) for r in handle.pending_records]
            return CaseFacts(records + pending, header)
        handle.workflow.script_engine.case_source = lambda: LazyFacts(source)

    def load(self, instance_id: int) -> InstanceHandle:
        # with no cached workflow to check against the row's version, the state comes in the same query
        maybe_cached = self._instances is not None and self._instances.holds(instance_id)
        row = self._prefetched.pop(instance_id, None) or \
            self.conn.execute(_LOAD_ROW if maybe_cached else _LOAD_ALL, {"id": instance_id}).first()
        if row is None:
            raise NotFound(f"instance {instance_id} does not exist")
        definition = self.definition(row.definition_id)
        cached = self._instances.take(row.id, row.version) if maybe_cached else None
        if cached is not None:
            workflow, before = cached
        else:
            state = row.state if "state" in row._fields else \
                self.conn.execute(_LOAD_STATE, {"id": instance_id}).scalar()
            workflow = load_state(state or b"", definition.spec_json, runtime.ScriptEngine())
            before = runtime.snapshot(workflow, definition.meta, evaluate_services=False)
        handle = InstanceHandle(row.id, definition, row.case_no, row.court, row.status, row.version, row.last_seq,
                                row.last_hash, workflow, before, row.parent_id, row.stage, row.related_case_no,
                                fields=row.fields or {}, case_id=row.case_id)
        self._bind_case(handle)
        return handle

    def prefetch(self, instance_ids) -> None:
        """Read several instances in one query (a batch); ``load`` then takes them from here."""
        rows = self.conn.execute(sa.select(instances).where(instances.c.id.in_(list(instance_ids)))).all()
        self._prefetched.update((row.id, row) for row in rows)

    @contextlib.contextmanager
    def batched(self):
        """Defer the writes of every ``save`` inside the block and run them together at its end: one statement
        (an executemany) per kind of write for all the instances saved, instead of a handful per instance."""
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
        self.flush()

    def write(self, statement, rows: list) -> None:
        """Run a write, or keep it for the end of the batch."""
        if rows:
            self._pending.setdefault(statement, []).extend(rows)
            if not self._batching:
                self.flush()

    def flush(self) -> None:
        """Run the kept writes: instance rows first (their version check), deletes, updates, then inserts."""
        pending, self._pending = self._pending, {}
        waits = pending.pop(_UNMATCHED, None)
        for statement, rows in sorted(pending.items(), key=lambda item: _write_order(item[0])):
            count = self.conn.execute(statement, rows).rowcount
            if statement is _SAVE and count != len(rows):
                raise ConcurrentModification("a case was changed by someone else meanwhile; try again")
        if waits:
            targets: dict = {}
            for name, key, court, case_no in waits:
                targets.setdefault((name, key), []).append((court, case_no))
            found = self.conn.execute(_UNMATCHED, {"waits": list(targets)}).all()
            for msg in found:       # only inside the sender's court boundary (engine.court.boundaries)
                if any(may_deliver(self.conn, msg.court, msg.sender_case, msg.correlation_key, court, case_no)
                       for court, case_no in targets[(msg.name, msg.correlation_key)]):
                    self.queue_inbox_message(msg)

    def log(self, handle: InstanceHandle, actor: str, action: str, task_id: str | None = None,
            bpmn_id: str | None = None, data=None) -> None:
        """Append an event to the instance's chain; written by ``save`` (or ``save_events``)."""
        row = event_row(handle.id, handle.case_no, handle.last_seq + 1, handle.last_hash, self.now, actor, action,
                        task_id, bpmn_id, data)
        handle.last_seq, handle.last_hash = row["seq"], row["hash"]
        handle.new_events.append(row)
        for record in handle.pending_records:
            if record["event_seq"] is None:
                record["event_seq"] = row["seq"]

    def save(self, handle: InstanceHandle, status: str | None = None) -> None:
        workflow = handle.workflow
        meta = handle.definition.meta
        for name, payload in runtime.thrown_messages(workflow):
            self._queue_message(handle, name, payload)
        if status is None:
            status = "completed" if workflow.is_completed() else handle.status
        if status != handle.status and status in ("completed", "terminated"):
            self.log(handle, "system", f"instance_{status}")
        after = runtime.Snapshot() if status in ("completed", "terminated") else \
            runtime.snapshot(workflow, meta)
        data = workflow.last_task.data if workflow.last_task is not None else {}
        stage = data.get("stage")
        old_stage = handle.stage
        if isinstance(stage, str):
            handle.stage = stage[:64]
        fields = case_fields(data, meta.get("case_fields", ()), handle.fields)
        try:
            self.write(_SAVE, [dict(
                w_id=handle.id, w_version=handle.version, state=dump_state(workflow), version=handle.version + 1,
                status=status, stage=handle.stage, fields=fields, updated_at=self.now, last_seq=handle.last_seq,
                case_id=handle.case_id,
                last_hash=handle.last_hash, ended_at=self.now if status in ("completed", "terminated") else None)])
        except ConcurrentModification:
            raise ConcurrentModification(f"case {handle.case_no} (instance {handle.id}) was changed by someone else "
                                         "meanwhile; reload it and try again") from None
        handle.version += 1
        self._sync_case(handle, old_stage, status, fields)
        handle.status = status
        handle.fields = fields
        self._sync_projections(handle, handle.before, after)
        handle.before = after
        self._write_events(handle)
        if handle not in self.saved:
            self.saved.append(handle)

    def _sync_case(self, handle: InstanceHandle, old_stage, status: str, fields: dict) -> None:
        """Write this step's case-file records, and bring the case row in step: its stage and status follow the
        instance that opened it, its header the ``caseFields`` values of the right type."""
        if handle.case_id is None:
            handle.pending_records = []
            return
        if handle.pending_records:
            for record in handle.pending_records:
                if record["event_seq"] is None:
                    record["event_seq"] = handle.last_seq
            self.write(_INSERT["case_records"], handle.pending_records)
            if handle.stored_records is not None:
                from engine.kernel.casefile import Record
                handle.stored_records[0].extend(Record(None, r["kind"], r["body"], r["recorded_at"])
                                                for r in handle.pending_records)
            handle.pending_records = []
        if handle.stage != old_stage or status != handle.status:
            case_status = {"completed": "closed", "terminated": "terminated"}.get(status, "open")
            self.write(_CASE_STAGE, [dict(w_case=handle.case_id, w_instance=handle.id, stage=handle.stage,
                                          status=case_status, updated_at=self.now)])
        if fields is not handle.fields and fields != handle.fields:
            changed = header_values({k: v for k, v in fields.items() if handle.fields.get(k) != v})
            if changed:
                self.set_header(handle.case_id, changed)

    def set_header(self, case_id: int, values: dict) -> None:
        """Set typed case-header columns (``engine.store.casefile.header_values``) of one case."""
        values = {k: v for k, v in values.items() if k in HEADER}
        if not values:
            return
        key = tuple(sorted(values))
        statement = _CASE_HEADER.get(key)
        if statement is None:
            statement = _CASE_HEADER[key] = cases.update().where(cases.c.id == sa.bindparam("w_case"))
        self.write(statement, [dict(values, w_case=case_id, updated_at=self.now)])

    def save_events(self, handle_or_id, actor: str, action: str, task_id=None, bpmn_id=None, data=None) -> None:
        """Log an event that does not change the workflow (claim, incident, retry): bump version + chain head."""
        row = self.conn.execute(sa.select(instances.c.id, instances.c.case_no, instances.c.version,
                                          instances.c.last_seq, instances.c.last_hash)
                                .where(instances.c.id == handle_or_id)).first()
        if row is None:
            raise NotFound(f"instance {handle_or_id} does not exist")
        ev = event_row(row.id, row.case_no, row.last_seq + 1, row.last_hash, self.now, actor, action, task_id,
                       bpmn_id, data)
        updated = self.conn.execute(instances.update()
                                    .where(instances.c.id == row.id, instances.c.version == row.version)
                                    .values(version=row.version + 1, last_seq=ev["seq"], last_hash=ev["hash"],
                                            updated_at=self.now)).rowcount
        if updated != 1:
            raise ConcurrentModification(f"case {row.case_no} was changed meanwhile; try again")
        self.conn.execute(_INSERT["events"], [ev])

    def _write_events(self, handle: InstanceHandle) -> None:
        self.write(_INSERT["events"], handle.new_events)
        handle.new_events = []

    # -- projections -------------------------------------------------------------------------------------
    def _sync_projections(self, handle: InstanceHandle, before: runtime.Snapshot, after: runtime.Snapshot) -> None:
        now, write = self.now, self.write
        write(_DELETE_HUMAN, [{"task_id": t} for t in before.human if t not in after.human])
        write(_INSERT["human_tasks"], [self._human_row(handle, tid, t) for tid, t in after.human.items()
                                       if tid not in before.human])

        gone_jobs = [t for t in before.services if t not in after.services] + \
                    [t for t in before.timers if t not in after.timers]
        write(_DELETE_JOBS, [{"instance_id": handle.id, "task_id": t} for t in gone_jobs])
        new_jobs = [self._service_job(handle, tid, s) for tid, s in after.services.items()
                    if tid not in before.services]
        for tid, timer in after.timers.items():
            old = before.timers.get(tid)
            if old is None:
                new_jobs.append(self._timer_job(handle, tid, timer))
            elif old.due != timer.due and timer.due is not None:
                write(_MOVE_TIMER, [dict(w_instance=handle.id, w_task=tid, due_at=timer.due,
                                         provisional=timer.provisional, updated_at=now)])
        write(_INSERT["jobs"], new_jobs)

        write(_DELETE_SUBS, [{"task_id": t} for t in before.subscriptions if t not in after.subscriptions])
        new_subs = [dict(task_id=tid, instance_id=handle.id, message_name=s.message,
                         correlation_key=str(s.key_value if s.key_value is not None else handle.case_no),
                         created_at=now)
                    for tid, s in after.subscriptions.items() if tid not in before.subscriptions]
        write(_INSERT["subscriptions"], new_subs)
        # a message that arrived before anyone waited for it is delivered once a matching wait begins
        write(_UNMATCHED, [(s["message_name"], s["correlation_key"], handle.court, handle.case_no) for s in new_subs])

    def _human_row(self, handle: InstanceHandle, task_id: str, task: runtime.HumanTask) -> dict:
        meta = handle.definition.meta["user_tasks"].get(task.bpmn_id, {})
        due, provisional = None, False
        if meta.get("due_in"):
            deadline = compute_deadline(meta["due_in"])
            due, provisional = deadline.due, deadline.provisional
        return dict(task_id=task_id, instance_id=handle.id, bpmn_id=task.bpmn_id, name=task.name, lane=task.lane,
                    role=meta.get("role") or "", court=handle.court, case_no=handle.case_no, claimed_by=None,
                    due_at=due, due_provisional=provisional, created_at=self.now)

    def _job(self, kind: str, key: str, **values) -> dict:
        row = dict(kind=kind, idempotency_key=key, status="ready", due_at=self.now, provisional=False, attempts=0,
                   max_attempts=DEFAULT_RETRIES + 1, backoff_s=DEFAULT_BACKOFF_S, created_at=self.now,
                   updated_at=self.now, instance_id=None, task_id=None, bpmn_id=None, operator=None, payload={},
                   last_error=None, error_details=None, locked_by=None, locked_until=None)
        row.update(values)
        return row

    def _service_job(self, handle: InstanceHandle, task_id: str, call: runtime.ServiceCall) -> dict:
        retries = DEFAULT_RETRIES if call.retries is None else call.retries
        return self._job("service", f"svc:{handle.id}:{task_id}", instance_id=handle.id, task_id=task_id,
                         bpmn_id=call.bpmn_id, operator=call.operator,
                         payload={"params": call.params, "case_no": handle.case_no, "court": handle.court},
                         status="incident" if call.error else "ready", last_error=call.error,
                         max_attempts=retries + 1, backoff_s=call.backoff_s or DEFAULT_BACKOFF_S)

    def _timer_job(self, handle: InstanceHandle, task_id: str, timer: runtime.Timer) -> dict:
        far = self.now + timedelta(days=365 * 100)  # a timer whose due time is unknown is listed, never fired
        return self._job("timer", f"tmr:{handle.id}:{task_id}", instance_id=handle.id, task_id=task_id,
                         bpmn_id=timer.bpmn_id, due_at=timer.due or far, provisional=timer.provisional)

    def _queue_message(self, handle: InstanceHandle, name: str, payload) -> None:
        key = (payload.get("correlation_key") or payload.get("case_no")) if isinstance(payload, dict) else None
        body = {"name": name, "key": str(key or handle.case_no), "payload": payload, "court": handle.court,
                "source": handle.id, "sender_case": handle.case_no}
        self.log(handle, "system", "message_thrown", data={"name": name, "key": body["key"]})
        self.conn.execute(jobs.insert(), [self._job("message", f"msg:{handle.id}:{handle.last_seq}",
                                                    instance_id=None, bpmn_id=name, payload=body)])

    def queue_inbox_message(self, msg) -> None:
        """Turn a kept message (unmatched, or held for a suspended case) into a delivery job."""
        self.conn.execute(messages.update().where(messages.c.id == msg.id).values(status="queued"))
        body = {"name": msg.name, "key": msg.correlation_key, "payload": msg.payload, "court": msg.court,
                "source": msg.source, "inbox_id": msg.id, "sender_case": msg.sender_case}
        self.conn.execute(jobs.insert(), [self._job("message", f"inbox:{msg.id}:{self.now.timestamp()}",
                                                    bpmn_id=msg.name, payload=body)])


def _write_order(statement) -> int:
    """Instance rows first (a lost version check stops the rest), then deletes, updates, inserts: a task's old
    projection row is gone before a new one could take its key."""
    if statement is _SAVE:
        return 0
    return 1 if isinstance(statement, sa.Delete) else 2 if isinstance(statement, sa.Update) else 3
