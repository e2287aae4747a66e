"""The only module that drives SpiffWorkflow objects at run time.

It builds the script engine (safe expressions + handler results), and reads a workflow into a ``Snapshot``: the
open human tasks, the service calls, the waiting timers and message subscriptions. The unit of work diffs two
snapshots (before and after a command) to keep the projection tables in step, so no projection is ever rebuilt
from scratch on the hot path.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.kernel.expressions import SafeEnvironment
from engine.kernel.workflow import step_budget
from engine.legaltime.timers import expression_functions


class ScriptEngine(PythonScriptEngine):
    """Safe expressions for every diagram text; service tasks take results computed outside the transaction."""

    def __init__(self) -> None:
        super().__init__(environment=SafeEnvironment(functions=expression_functions()))
        self.service_results: dict[UUID, object] = {}
        self.case_source = None        # () -> CaseFacts of the step's case, set by the unit of work on load

    def _with_case(self, text, external_context):
        """Texts that read ``case`` get the case file (built only for them: most conditions never need it)."""
        if self.case_source is None or "case" not in (text or ""):
            return external_context
        return {**(external_context or {}), "case": self.case_source()}

    def evaluate(self, task, expression, external_context=None):
        return super().evaluate(task, expression, self._with_case(expression, external_context))

    def execute(self, task, script, external_context=None):
        return super().execute(task, script, self._with_case(script, external_context))

    def call_service(self, task, operation_name=None, operation_params=None, **_kwargs):
        if task.id not in self.service_results:
            raise WorkflowTaskException(f"service task '{task.task_spec.bpmn_id}' ran without a handler result",
                                        task=task)
        return json.dumps(self.service_results.pop(task.id))


@dataclass(frozen=True)
class HumanTask:
    bpmn_id: str
    name: str
    lane: str | None


@dataclass(frozen=True)
class ServiceCall:
    bpmn_id: str
    operator: str
    params: dict | None        # None when a parameter expression failed (then ``error`` says why)
    retries: int | None
    backoff_s: int | None
    error: str | None = None


@dataclass(frozen=True)
class Timer:
    bpmn_id: str
    due: datetime | None
    provisional: bool


@dataclass(frozen=True)
class Subscription:
    bpmn_id: str
    message: str
    key_value: object


@dataclass
class Snapshot:
    human: dict[str, HumanTask] = field(default_factory=dict)
    services: dict[str, ServiceCall] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)


def snapshot(workflow, meta: Mapping | None = None, evaluate_services: bool = True) -> Snapshot:
    """Read what the workflow is waiting for. ``meta`` (the definition's) says which data field each message
    correlates on: ``message_keys[name]``, else the process's ``key_field``, else ``case_no``."""
    meta = meta or {}
    key_field, message_keys = meta.get("key_field", "case_no"), meta.get("message_keys", {})
    snap = Snapshot()
    for task in open_tasks(workflow):
        spec = task.task_spec
        tid = str(task.id)
        if task.state == TaskState.READY:
            if isinstance(spec, ServiceTask):
                snap.services[tid] = service_call(task, evaluate_services)
            elif spec.manual:
                snap.human[tid] = HumanTask(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, spec.lane)
            continue
        definition = getattr(spec, "event_definition", None)
        # an event-based gateway or a multiple catch waits on several events at once (one timer at most:
        # SpiffWorkflow keeps a single due time per task)
        parts = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
        for part in parts:
            if isinstance(part, TimerEventDefinition) and tid not in snap.timers:
                due = _parse_due(part.details(task).value)
                snap.timers[tid] = Timer(spec.bpmn_id, due, bool(task._get_internal_data("provisional", False)))
            elif isinstance(part, MessageEventDefinition):
                field_name = message_keys.get(part.name, key_field)
                sub_id = tid if part is definition else f"{tid}/{part.name}"
                snap.subscriptions[sub_id] = Subscription(spec.bpmn_id, part.name, task.data.get(field_name))
    return snap


def open_tasks(workflow):
    """READY and WAITING tasks of the workflow and its subprocesses, by a flat scan (no tree walk: the tree of a
    long-running case is deep, the task table is not)."""
    for flow in (workflow, *workflow.subprocesses.values()):
        for task in flow.tasks.values():
            if task.state in (TaskState.READY, TaskState.WAITING):
                yield task


def ready_service_tasks(workflow):
    """The service tasks the workflow is ready to run."""
    return [t for t in open_tasks(workflow) if t.state == TaskState.READY and isinstance(t.task_spec, ServiceTask)]


def _parse_due(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    due = TimerEventDefinition.get_datetime(value)
    return due.astimezone(UTC)


def service_call(task, evaluate: bool) -> ServiceCall:
    spec = task.task_spec
    params, error = None, None
    if evaluate:
        try:
            params = {name: p["value"] for name, p in spec.evaluate_params(task).items()}
            json.dumps(params)
        except Exception as exc:  # an expression failed: the job becomes an incident that names it
            error = f"parameters of '{spec.bpmn_id}' could not be evaluated: {_one_line(exc)}"
            params = None
    return ServiceCall(spec.bpmn_id, spec.operation_name, params, spec.retries, spec.retry_backoff_base, error)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def find_task(workflow, task_id: str):
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except Exception:
        return None


def deliver_message(workflow, name: str, payload) -> None:
    workflow.send_event(BpmnEvent(SpiffMessageEventDefinition(name), payload))


def thrown_messages(workflow) -> list[tuple[str, object]]:
    """Messages the workflow threw that nobody inside it caught (to be routed between instances)."""
    out = []
    for event in workflow.get_events():
        if isinstance(event.event_definition, MessageEventDefinition):
            out.append((event.event_definition.name, event.payload))
    return out


def recompute_timer(workflow, task_id: str, compute_deadline) -> bool:
    """Recompute a provisional legal-duration timer from when it started; True if it was recomputed."""
    task = find_task(workflow, task_id)
    start = task._get_internal_data("event_start") if task is not None else None
    if start is None or not task._get_internal_data("provisional", False):
        return False
    period = workflow.script_engine.evaluate(task, task.task_spec.event_definition.expression)
    due = compute_deadline(str(period), start)
    task._set_internal_data(event_value=due.due.isoformat(), provisional=due.provisional)
    return True


def run_engine(workflow) -> None:
    """Run the case to its next wait, within one step budget (``engine/kernel/workflow.py``: ``StepBudgetExceeded``)."""
    with step_budget():
        workflow.refresh_timers()
        workflow.do_engine_steps()


def describe_error(exc: BaseException) -> str:
    """One line naming the diagram element and the problem, for incidents and users."""
    task = getattr(exc, "task", None)
    where = f"{task.task_spec.bpmn_id}: " if task is not None and getattr(task, "task_spec", None) else ""
    return where + _one_line(exc)
