"""Jobs: timers, service calls and message deliveries, taken by exactly one worker each.

``AcquireJobs`` leases due jobs (``status='ready'`` and due, or a ``running`` lease that expired because its
worker died) with a conditional UPDATE, plus ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers
never take the same job and need no coordinator. Each job then runs in its own command; a failure is recorded by
``RecordJobFailure`` in a separate transaction after the rollback: retried with exponential back-off, then an
incident (``status='incident'``) that ``RetryIncident`` puts back in the queue.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from engine.commands.messages import CorrelateMessage
from engine.errors import NotFound, StateError
from engine.kernel import TaskState, runtime
from engine.kernel.services import LocalServices, stored_task_ids
from engine.kernel.unit_of_work import UnitOfWork
from engine.kernel.workflow import dispose
from engine.store.tables import instances, jobs
from engine.views import JobView

# a job taken by a worker that died is taken again once its lease runs out
LEASE = timedelta(seconds=int(os.environ.get("ZHIXING_JOB_LEASE_S", "300")))


def job_view(row) -> JobView:
    return JobView(row.id, row.kind, row.instance_id, row.bpmn_id, row.operator, row.status, row.due_at,
                   row.attempts, row.max_attempts, row.last_error, row.error_details)


@dataclass(frozen=True)
class AcquireJobs:
    worker: str
    limit: int = 50
    kinds: tuple = ("timer", "service", "message")

    def execute(self, uow: UnitOfWork) -> list:
        due = sa.or_(sa.and_(jobs.c.status == "ready", jobs.c.due_at <= uow.now),
                     sa.and_(jobs.c.status == "running", jobs.c.locked_until < uow.now))
        query = sa.select(jobs).where(due, jobs.c.kind.in_(self.kinds)).order_by(jobs.c.due_at).limit(self.limit)
        if uow.conn.dialect.name == "postgresql":
            # the rows stay locked to this transaction (others skip them): one UPDATE leases them all
            rows = uow.conn.execute(query.with_for_update(skip_locked=True)).all()
            if rows:
                uow.conn.execute(jobs.update().where(jobs.c.id.in_([r.id for r in rows]))
                                 .values(status="running", locked_by=self.worker, locked_until=uow.now + LEASE,
                                         updated_at=uow.now))
            return list(rows)
        taken = []
        for row in uow.conn.execute(query).all():
            won = uow.conn.execute(jobs.update().where(jobs.c.id == row.id, jobs.c.status == row.status,
                                                       jobs.c.updated_at == row.updated_at)
                                   .values(status="running", locked_by=self.worker,
                                           locked_until=uow.now + LEASE, updated_at=uow.now)).rowcount
            if won:
                taken.append(row)
        return taken


@dataclass(frozen=True)
class RenewLease:
    """Renew this worker's lease on a job just before running it; False when the lease ran out and another worker
    took the job meanwhile (a long batch must never run a job twice)."""

    job_id: int
    worker: str

    def execute(self, uow: UnitOfWork) -> bool:
        return uow.conn.execute(jobs.update().where(jobs.c.id == self.job_id, jobs.c.locked_by == self.worker,
                                                    jobs.c.status == "running")
                                .values(locked_until=uow.now + LEASE, updated_at=uow.now)).rowcount == 1


# back to the queue, due when its timer is (a job due earlier than its timer would be taken again at once)
_RELEASE = jobs.update().where(jobs.c.id == sa.bindparam("w_id"), jobs.c.status == "running").values(
    status="ready", locked_by=None, locked_until=None,
    due_at=sa.func.coalesce(sa.bindparam("timer_due", type_=jobs.c.due_at.type), jobs.c.due_at))


@dataclass(frozen=True)
class FireTimers:
    """Fire whatever timers of one instance are due (the job names one of them)."""

    job_id: int
    instance_id: int
    local: LocalServices | None = None     # run the local service tasks it reaches in the same transaction
    task_id: str | None = None             # the job's timer task (its job row is deleted once it fired)

    def execute(self, uow: UnitOfWork) -> list[str]:
        handle = uow.load(self.instance_id)
        if handle.status != "running":
            uow.conn.execute(jobs.update().where(jobs.c.id == self.job_id).values(status="suspended"))
            return []
        before = dict(handle.before.timers)
        stored = stored_task_ids(handle.workflow) if self.local is not None else set()
        runtime.run_engine(handle.workflow)
        after = runtime.snapshot(handle.workflow, handle.definition.meta, evaluate_services=False).timers
        fired = [t.bpmn_id for tid, t in before.items() if tid not in after and t.due and t.due <= uow.now]
        for bpmn_id in fired:
            uow.log(handle, "system", "timer_fired", bpmn_id=bpmn_id)
        if self.local is not None:
            self.local.run(uow, handle, stored)
        uow.save(handle)
        # a job whose timer is still waiting (due moved, or fired with another) goes back to the queue
        if self.task_id not in before or self.task_id in handle.before.timers:
            timer = handle.before.timers.get(self.task_id) if self.task_id else None
            uow.write(_RELEASE, [dict(w_id=self.job_id, timer_due=timer.due if timer else None, updated_at=uow.now)])
        return fired


@dataclass(frozen=True)
class FireTimerBatch:
    """Fire the due timers of several instances (each once) in one transaction, their writes run together (a
    sweep of the no-asset pool). A failure rolls the whole batch back; the worker then runs each job alone."""

    commands: tuple[FireTimers, ...]

    def execute(self, uow: UnitOfWork) -> None:
        uow.prefetch(c.instance_id for c in self.commands)
        with uow.batched():
            for command in self.commands:
                command.execute(uow)
        for handle in uow.saved:        # a swept case waits months for its next timer: not worth caching
            dispose(handle.workflow)
        uow.saved.clear()


@dataclass(frozen=True)
class CompleteServiceTask:
    """Hand a handler's result to its service task and run the instance on."""

    job_id: int
    instance_id: int
    task_id: str
    operator: str
    result: dict = field(default_factory=dict)
    local: LocalServices | None = None
    records: tuple = ()           # the checked case-file records the result produces (its handler's declaration)

    def execute(self, uow: UnitOfWork) -> None:
        handle = uow.load(self.instance_id)
        stored = stored_task_ids(handle.workflow) if self.local is not None else set()
        task = runtime.find_task(handle.workflow, self.task_id)
        if task is None or task.state != TaskState.READY:      # already done by an earlier run of this job
            uow.conn.execute(jobs.delete().where(jobs.c.id == self.job_id))
            return
        if handle.status != "running":
            raise StateError(f"case {handle.case_no} is {handle.status}")
        uow.add_records(handle, self.records, via="service", source=self.operator, actor="system",
                        task_id=self.task_id, job_id=self.job_id)
        handle.workflow.script_engine.service_results[task.id] = self.result
        task.run()
        runtime.run_engine(handle.workflow)
        uow.log(handle, "system", "service_completed", self.task_id, task.task_spec.bpmn_id,
                data={"operator": self.operator, "result": self.result})
        if self.local is not None:
            self.local.run(uow, handle, stored)
        uow.save(handle)


@dataclass(frozen=True)
class DeliverMessage:
    job_id: int
    payload: dict

    def execute(self, uow: UnitOfWork):
        body = self.payload
        sender_case = body.get("sender_case")
        if sender_case is None and isinstance(body.get("source"), int) and not body.get("inbox_id"):
            # thrown before the job recorded its case (court boundaries, migration 0010)
            sender_case = uow.conn.execute(sa.select(instances.c.case_no)
                                           .where(instances.c.id == body["source"])).scalar()
        result = CorrelateMessage(body["name"], body["key"], f"instance:{body.get('source')}",
                                  body["payload"] if isinstance(body.get("payload"), dict) else {},
                                  court=body.get("court"), inbox_id=body.get("inbox_id"),
                                  sender_case=sender_case).execute(uow)
        uow.conn.execute(jobs.delete().where(jobs.c.id == self.job_id))
        return result


@dataclass(frozen=True)
class RecordJobFailure:
    job_id: int
    error: str
    details: dict | None = None
    retryable: bool = True
    counts: bool = True           # False: a lost race, not a failure: back in the queue at once

    def execute(self, uow: UnitOfWork) -> JobView | None:
        row = uow.conn.execute(sa.select(jobs).where(jobs.c.id == self.job_id)).first()
        if row is None:
            return None
        if not self.counts:
            uow.conn.execute(jobs.update().where(jobs.c.id == self.job_id).values(
                status="ready", locked_by=None, locked_until=None, updated_at=uow.now))
            return job_view(row)
        attempts = row.attempts + 1
        incident = not self.retryable or attempts >= row.max_attempts
        values = dict(attempts=attempts, last_error=self.error[:2000], error_details=self.details,
                      locked_by=None, locked_until=None, updated_at=uow.now,
                      status="incident" if incident else "ready")
        if not incident:
            values["due_at"] = uow.now + timedelta(seconds=row.backoff_s * 2 ** (attempts - 1))
        uow.conn.execute(jobs.update().where(jobs.c.id == self.job_id).values(**values))
        if row.instance_id is not None:
            action = "incident_opened" if incident else "job_failed"
            uow.save_events(row.instance_id, "system", action, row.task_id, row.bpmn_id,
                            data={"job": row.id, "kind": row.kind, "attempt": attempts, "error": self.error})
        return job_view(uow.conn.execute(sa.select(jobs).where(jobs.c.id == self.job_id)).first())


@dataclass(frozen=True)
class RecordLocalFailure:
    """A service task that failed inline: record it on the job its task became, and give
    that job the key the inline call used, so every attempt of the task asks the handler with one key (a task the
    step itself created got new ids on the re-run, and with them a job key of its own)."""

    instance_id: int
    task_id: str
    key: str                        # the idempotency key of the failed inline call
    error: str
    details: dict | None = None
    retryable: bool = True
    counts: bool = True

    def execute(self, uow: UnitOfWork) -> JobView | None:
        job_id = uow.conn.execute(sa.select(jobs.c.id).where(
            jobs.c.instance_id == self.instance_id, jobs.c.task_id == self.task_id, jobs.c.kind == "service")).scalar()
        if job_id is None:          # the re-run took another path (the case changed meanwhile)
            return None
        uow.conn.execute(jobs.update().where(jobs.c.id == job_id).values(idempotency_key=self.key))
        return RecordJobFailure(job_id, self.error, self.details, self.retryable, self.counts).execute(uow)


@dataclass(frozen=True)
class RetryIncident:
    job_id: int
    actor: str

    def execute(self, uow: UnitOfWork) -> JobView:
        row = uow.conn.execute(sa.select(jobs).where(jobs.c.id == self.job_id)).first()
        if row is None:
            raise NotFound(f"job {self.job_id} does not exist (it may have completed)")
        if row.status != "incident":
            raise StateError(f"job {self.job_id} is {row.status}, not an incident")
        uow.conn.execute(jobs.update().where(jobs.c.id == self.job_id).values(
            status="ready", attempts=0, due_at=uow.now, updated_at=uow.now))
        if row.instance_id is not None:
            uow.save_events(row.instance_id, self.actor, "incident_retried", row.task_id, row.bpmn_id,
                            data={"job": row.id, "previous_error": row.last_error})
        return job_view(uow.conn.execute(sa.select(jobs).where(jobs.c.id == self.job_id)).first())
