"""Runs due jobs: the loop behind ``zhixing worker``, the in-process scheduler of ``zhixing serve``, and simulation.

Handlers run outside any instance transaction, with the job's idempotency key; their result is then handed to
the instance by its own command. A handler's failure never escapes: it becomes a retry or an incident. Handlers
of local adapters (the sandboxes) run inside the step that reaches their task instead (``engine.kernel.services``).
"""
from __future__ import annotations

import logging
import os
import socket

from engine.commands.jobs import (
    LEASE,
    AcquireJobs,
    CompleteServiceTask,
    DeliverMessage,
    FireTimerBatch,
    FireTimers,
    RecordJobFailure,
    RecordLocalFailure,
    RenewLease,
)
from engine.kernel import services
from engine.kernel.services import LocalFailure, LocalServices, call_handler, failure_record, result_records
from handlers.base import BusinessRejection, HandlerContext

log = logging.getLogger("zhixing.worker")

# a job taken in a batch is run without renewing its lease while the batch is younger than this (the lease then
# still has at least LEASE - RENEW_AFTER to run); later jobs renew theirs first, as before
RENEW_AFTER = LEASE / 10
# due timers of this many instances are fired in one transaction (a sweep); a failure re-runs them one by one
TIMER_BATCH = int(os.environ.get("ZHIXING_TIMER_BATCH", "20"))


class JobRunner:
    def __init__(self, executor, registry, worker_id: str | None = None):
        self.executor = executor
        self.registry = registry
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"

    def run_due(self, limit: int = 100) -> int:
        """Take and run one batch of due jobs; return how many were taken."""
        taken = self.executor.run(AcquireJobs(self.worker_id, limit))
        clock = self.executor.clock
        leased = clock.now()
        for group in _groups(taken):
            # a lease taken moments ago is still good; a job that waited behind slow ones renews its lease first
            fresh = clock.now() - leased < RENEW_AFTER
            group = [job for job in group if fresh or self.executor.run(RenewLease(job.id, self.worker_id))]
            if len(group) > 1 and self._fire_together(group):
                continue
            for job in group:
                self._run_one(job)
        return len(taken)

    def _fire_together(self, group) -> bool:
        """Fire a group of timer jobs in one transaction; False (nothing kept) when any of them failed."""
        try:
            self.executor.run(FireTimerBatch(tuple(
                self._fire(job, LocalServices(self.registry, job.idempotency_key) if services.ENABLED else None)
                for job in group)))
            return True
        except Exception as exc:
            log.info("a batch of %d timers failed (%s); running them one by one", len(group), exc)
            return False

    @staticmethod
    def _fire(job, local) -> FireTimers:
        return FireTimers(job.id, job.instance_id, local, job.task_id)

    def _run_one(self, job) -> None:
        try:
            if job.kind == "timer":
                self._with_local(job, lambda local: self._fire(job, local))
            elif job.kind == "message":
                self.executor.run(DeliverMessage(job.id, job.payload))
            else:
                self._run_service(job)
        except Exception as exc:
            self.executor.run(RecordJobFailure(job.id, **failure_record(job.operator or job.kind, exc)))

    def _with_local(self, job, command) -> None:
        """Run ``command(local)`` with local service tasks inline; when one fails, run it again leaving that task to
        its job, then record the failure on that job as its first attempt (see ``engine.kernel.services``)."""
        if not services.ENABLED:
            self.executor.run(command(None))
            return
        failed: list[LocalFailure] = []
        while True:
            local = LocalServices(self.registry, job.idempotency_key, frozenset(f.key for f in failed))
            try:
                self.executor.run(command(local))
                break
            except LocalFailure as failure:
                failed.append(failure)
        for failed_call in failed:
            if failed_call.key in local.left:
                self.executor.run(RecordLocalFailure(job.instance_id, local.left[failed_call.key], failed_call.key,
                                                     **failure_record(failed_call.operator, failed_call.cause)))

    def _run_service(self, job) -> None:
        spec = self.registry.get(job.operator)
        if spec is None:
            raise BusinessRejection(f"operator '{job.operator}' is not registered in this engine")
        params = job.payload.get("params")
        if params is None:
            raise BusinessRejection(job.last_error or "the service task's parameters could not be evaluated")
        ctx = HandlerContext(job.idempotency_key, job.instance_id, job.payload.get("case_no"),
                             job.payload.get("court"), self.executor.clock.now(), job.attempts + 1,
                             self.executor.database_id)
        result = call_handler(spec, ctx, params)
        records = tuple(result_records(spec, result, job.payload.get("case_no")))
        self._with_local(job, lambda local: CompleteServiceTask(job.id, job.instance_id, job.task_id, job.operator,
                                                                result, local, records))


def _groups(taken):
    """The taken jobs in running order, as groups: runs of timer jobs of distinct instances, at most TIMER_BATCH
    long, and every other job alone."""
    group, instances = [], set()
    for job in taken:
        if job.kind != "timer" or job.instance_id in instances or len(group) >= TIMER_BATCH:
            if group:
                yield group
            group, instances = [], set()
        if job.kind != "timer":
            yield [job]
            continue
        group.append(job)
        instances.add(job.instance_id)
    if group:
        yield group
