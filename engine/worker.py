"""Runs due jobs: the loop behind ``zhixing worker``, the in-process scheduler of ``zhixing serve``, and simulation.

Handlers run outside any instance transaction, with the job's idempotency key; their result is then handed to
the instance by its own command. A handler's failure never escapes: it becomes a retry or an incident.
"""
from __future__ import annotations

import json
import logging
import os
import socket

from engine.commands.jobs import (AcquireJobs, CompleteServiceTask, DeliverMessage, FireTimers,
                                  RecordJobFailure, RenewLease)
from engine.errors import ConcurrentModification, ZhixingError
from engine.runtime import describe_error
from handlers.base import BusinessRejection, HandlerContext, HandlerError

log = logging.getLogger("zhixing.worker")


class JobRunner:
    def __init__(self, executor, registry, worker_id: str | None = None):
        self.executor = executor
        self.registry = registry
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"

    def run_due(self, limit: int = 100) -> int:
        """Take and run one batch of due jobs; return how many were taken."""
        taken = self.executor.run(AcquireJobs(self.worker_id, limit))
        for position, job in enumerate(taken):
            # the first job's lease is fresh; later ones may have waited behind slow jobs
            if position == 0 or self.executor.run(RenewLease(job.id, self.worker_id)):
                self._run_one(job)
        return len(taken)

    def _run_one(self, job) -> None:
        try:
            if job.kind == "timer":
                self.executor.run(FireTimers(job.id, job.instance_id))
            elif job.kind == "message":
                self.executor.run(DeliverMessage(job.id, job.payload))
            else:
                self._run_service(job)
        except ConcurrentModification:
            self.executor.run(RecordJobFailure(job.id, "the case changed meanwhile", counts=False))
        except BusinessRejection as exc:
            self.executor.run(RecordJobFailure(job.id, f"{job.operator}: {exc}", exc.details, retryable=False))
        except HandlerError as exc:
            self.executor.run(RecordJobFailure(job.id, f"{job.operator}: {exc}", exc.details, True))
        except ZhixingError as exc:
            self.executor.run(RecordJobFailure(job.id, str(exc), None, True))
        except Exception as exc:  # a handler or diagram bug: keep the engine alive, record it
            log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
            self.executor.run(RecordJobFailure(job.id, f"{job.operator or job.kind}: {describe_error(exc)}",
                                               {"type": exc.__class__.__name__}, True))

    def _run_service(self, job) -> None:
        spec = self.registry.get(job.operator)
        if spec is None:
            raise BusinessRejection(f"operator '{job.operator}' is not registered in this engine")
        params = job.payload.get("params")
        if params is None:
            raise BusinessRejection(job.last_error or "the service task's parameters could not be evaluated")
        ctx = HandlerContext(job.idempotency_key, job.instance_id, job.payload.get("case_no"),
                             job.payload.get("court"), self.executor.clock.now(), job.attempts + 1)
        result = spec.func(ctx, **params)
        if result is None:
            result = {}
        if not isinstance(result, dict):
            raise BusinessRejection(f"handler '{job.operator}' returned {type(result).__name__}, not a dict")
        result = json.loads(json.dumps(result, default=str))
        self.executor.run(CompleteServiceTask(job.id, job.instance_id, job.task_id, job.operator, result))
