"""Calling service-task handlers: from their job (the worker), or inline in the step that reached the task.

A handler whose external system's adapter is local (``handlers.config.is_local``: the sandboxes) is called inside
the command that made its task READY, so a re-query (timer, asset search, notice) is one load and one save of the
instance instead of three. Nothing else changes: the handler gets the key its job would have had
(``svc:<instance>:<task>``), the same ``service_completed`` event is logged, and a failure rolls the whole
command back (the timer firing too) with ``LocalFailure``; the worker then runs the command again leaving that
task to its job, and records the failure on the job as its first attempt (retries, back-off, incident as usual).

The key of a task already in the stored state is its job's (``svc:<instance>:<task>``); a task this command
created gets new ids on a re-run, so its key is named after what made it: the key of the job whose command runs
(a timer firing, a service result) and the element (``svc:<instance>:tmr:…>notify_requery#1``). Either way a
re-run after a crash asks the handler again with the same key, and it answers the same; after a failure the task's
job takes over the key of the failed call (``RecordLocalFailure``).
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConcurrentModification, ZhixingError
from engine.kernel import runtime
from engine.kernel.casefile import records_from_result
from engine.store.casefile import RecordInvalid
from handlers.base import BusinessRejection, HandlerContext, HandlerError
from handlers.config import is_local

log = logging.getLogger("zhixing.worker")
ENABLED = os.environ.get("ZHIXING_INLINE_LOCAL", "1") != "0"
MAX_INLINE = 20        # service tasks per command: a loop of local services still yields to other work


def call_handler(spec, ctx: HandlerContext, params: dict) -> dict:
    """Call a handler and check its answer: a JSON-able dict (dates become text)."""
    result = spec.func(ctx, **params)
    if result is None:
        result = {}
    if not isinstance(result, dict):
        raise BusinessRejection(f"handler '{spec.name}' returned {type(result).__name__}, not a dict")
    return json.loads(json.dumps(result, default=str))


def result_records(spec, result: dict, case_no: str) -> list:
    """The case-file records a handler's result produces, as its spec declares; a result that does not fit its
    own declaration is the handler's fault: refused like a rejection (an incident naming the field)."""
    try:
        return records_from_result(spec, result, case_no)
    except RecordInvalid as exc:
        raise BusinessRejection(f"handler '{spec.name}' returned a result that does not make its declared "
                                f"{exc.kind} record: {exc}", {"field": exc.field}) from None


def failure_record(label: str, exc: Exception) -> dict:
    """The ``RecordJobFailure`` arguments for a job that failed with ``exc`` (``label``: operator or job kind)."""
    if isinstance(exc, ConcurrentModification):
        return dict(error="the case changed meanwhile", counts=False)
    if isinstance(exc, BusinessRejection):
        return dict(error=f"{label}: {exc}", details=exc.details, retryable=False)
    if isinstance(exc, HandlerError):
        return dict(error=f"{label}: {exc}", details=exc.details, retryable=True)
    if isinstance(exc, ZhixingError):
        return dict(error=str(exc), details=None, retryable=True)
    log.warning("%s failed: %s", label, exc)     # a handler or diagram bug: keep the engine alive, record it
    return dict(error=f"{label}: {runtime.describe_error(exc)}", details={"type": exc.__class__.__name__},
                retryable=True)


class LocalFailure(Exception):
    """A service task run inline failed; the command was rolled back."""

    def __init__(self, key: str, operator: str, cause: Exception):
        super().__init__(f"{operator}: {cause}")
        self.key, self.operator, self.cause = key, operator, cause


@dataclass(frozen=True)
class LocalServices:
    registry: Any
    trigger: str                                        # the key of the job whose command this is
    skip: frozenset = field(default_factory=frozenset)  # keys of inline calls that failed: left to their jobs
    left: dict = field(default_factory=dict, compare=False)   # key -> id of each task so left to its job

    def run(self, uow, handle, stored: set) -> None:
        """Run the READY service tasks with a local handler, and the instance on, until none is left."""
        keys: dict = {}
        for _ in range(MAX_INLINE):
            found = self._next(handle, stored, keys)
            if found is None:
                return
            task, key, spec, params = found
            try:
                ctx = HandlerContext(key, handle.id, handle.case_no, handle.court, uow.now, 1, uow.database_id)
                result = call_handler(spec, ctx, params)
                uow.add_records(handle, result_records(spec, result, handle.case_no), via="service",
                                source=spec.name, actor="system", task_id=str(task.id))
                handle.workflow.script_engine.service_results[task.id] = result
                task.run()
                runtime.run_engine(handle.workflow)
            except Exception as exc:
                raise LocalFailure(key, spec.name, exc) from exc
            uow.log(handle, "system", "service_completed", str(task.id), task.task_spec.bpmn_id,
                    data={"operator": spec.name, "result": result})

    def _next(self, handle, stored: set, keys: dict):
        for task in runtime.ready_service_tasks(handle.workflow):
            tid = str(task.id)
            if tid in handle.before.services:
                continue                        # already a job before this command: the job runs it
            key = keys.get(task.id) or keys.setdefault(task.id, self._key(handle, task, stored, keys))
            if key in self.skip:
                self.left[key] = tid            # failed inline before: its job runs it (and records why)
                continue
            spec = self.registry.get(task.task_spec.operation_name)
            if spec is None or spec.system is None or not is_local(spec.system):
                continue
            call = runtime.service_call(task, True)
            if call.params is not None:          # parameters that cannot be evaluated: an incident, via the job
                return task, key, spec, call.params
        return None

    def _key(self, handle, task, stored: set, keys: dict) -> str:
        """The idempotency key: a stored task's is its job's; a task made by this command gets new ids on a re-run,
        so its key names what made it: the trigger, its element and how many of those came before in this step."""
        if task.id in stored:
            return f"svc:{handle.id}:{task.id}"
        bpmn_id = task.task_spec.bpmn_id
        prefix = f"svc:{handle.id}:{self.trigger}>{bpmn_id}#"
        return prefix + str(1 + sum(k.startswith(prefix) for k in keys.values()))


def stored_task_ids(workflow) -> set:
    """The ids of every task the workflow holds now (taken before a command runs it on)."""
    ids = set(workflow.tasks)
    for flow in workflow.subprocesses.values():
        ids.update(flow.tasks)
    return ids
