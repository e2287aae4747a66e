"""Moving a running case to a newer version of its procedure (版本迁移), refusing what is unsafe.

SpiffWorkflow 3.2 aligns the task specs of two versions by BPMN id (then by structure) and re-binds a workflow's
tasks to the new specs (``SpiffWorkflow.bpmn.util.diff``): open tasks are reset and their next steps predicted
again from the new diagram. The engine adds what a court needs on top:

* a token may only move to an element **with the same id and type** in the new version: a waiting case never
  silently jumps to another step;
* a waiting timer keeps the deadline it is counting (reset would restart a legal period from today), so its
  definition must not have changed; a pending service call must not have changed either;
* an open task's form must stay compatible: no field removed, retyped, or with fewer allowed values;
* every step the case already passed must exist in the new version, or the case could not be loaded again.

``plan_migration`` does the whole migration in memory and returns why it cannot be done (``reasons``) or what the
designer should know (``notes``); the ``MigrateInstance`` command runs the same plan and saves it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import SimpleNamespace

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.diff import SpecDiff, migrate_workflow
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.util.task import TaskState

from engine.kernel import runtime
from engine.kernel.serialization import dump_state, full_serializer, load_state, new_workflow

_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
_SERVICE_FIELDS = {"operation_name", "operation_params", "result_variable"}


@dataclass
class MigrationPlan:
    """What moving one case would do. ``reasons`` empty means it can move."""

    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class _SpecChanges:
    """SpiffWorkflow's spec diff of one (sub)process, by spec name, so it is computed once for many cases."""

    target: dict[str, str | None]       # old spec name -> aligned new spec name (None: removed)
    changed: dict[str, frozenset]       # old spec name -> changed attributes ('typename' if the type changed)

    @classmethod
    def of(cls, old_spec, new_spec) -> _SpecChanges:
        diff = SpecDiff(full_serializer().registry, old_spec, new_spec)
        return cls({old.name: (new.name if new is not None else None) for old, new in diff.alignment.items()},
                   {old.name: frozenset(attrs) for old, attrs in diff.comparisons.items() if attrs})

    def aligned(self, name: str, target_spec):
        """The new spec of old spec ``name`` (specs the diff did not reach are matched by name)."""
        new_name = self.target[name] if name in self.target else name
        return target_spec.task_specs.get(new_name) if new_name else None


def plan_migration(workflow, old_meta: dict, new_spec_json: str, new_meta: dict, cache: dict | None = None,
                   verify: bool = True) -> MigrationPlan:
    """Migrate ``workflow`` (in place) to the spec in ``new_spec_json``; the plan says whether that was safe.

    The caller saves the workflow only when ``plan.ok``; otherwise it must be thrown away. ``cache`` keeps the
    spec diffs (and, without ``verify``, the new spec objects) between calls for cases of the same two versions:
    a preview, which throws every workflow away. ``verify`` (before saving) also runs the engine on the new
    version and checks that the migrated state reads back.
    """
    plan = MigrationPlan()
    cache = {} if cache is None else cache
    fresh = cache.get("") if not verify else None
    if fresh is None:
        fresh = new_workflow(new_spec_json, workflow.script_engine)
        if not verify:
            cache[""] = fresh
    new_spec, new_subprocess_specs = fresh.spec, fresh.subprocess_specs
    flows = [(workflow, new_spec)]
    for subprocess in workflow.subprocesses.values():
        target = new_subprocess_specs.get(subprocess.spec.name)
        if target is None:
            plan.reasons.append(f"{subprocess.spec.name}: the case runs this (sub)process, which the new version "
                                "no longer contains")
        else:
            flows.append((subprocess, target))
    if plan.reasons:
        return plan
    for flow, target in flows:
        if flow.spec.name not in cache:
            cache[flow.spec.name] = _SpecChanges.of(flow.spec, target)
        _check_flow(plan, flow, target, cache[flow.spec.name], old_meta, new_meta)
    if plan.reasons:
        return plan
    kept = {task.id: copy.deepcopy(task.internal_data) for flow, _t in flows
            for task in flow.tasks.values() if task.state & (TaskState.READY | TaskState.WAITING)}
    for flow, target in flows:
        changes = cache[flow.spec.name]
        alignment = {task: changes.aligned(task.task_spec.name, target) for task in flow.tasks.values()}
        migrate_workflow(SimpleNamespace(alignment=alignment), flow, target)
        flow.__dict__.pop("_zhixing_task_dicts", None)   # cached dicts name the old specs
    workflow.subprocess_specs = new_subprocess_specs
    for flow, _t in flows:
        for task in flow.tasks.values():
            if task.id in kept and task.state & (TaskState.READY | TaskState.WAITING):
                task.internal_data = kept[task.id]       # a running timer keeps its start and due time
    stray = [task for flow, target in flows for task in flow.tasks.values()
             if target.task_specs.get(task.task_spec.name) is not task.task_spec]
    passed = sorted({t.task_spec.name for t in stray if t.state & TaskState.FINISHED_MASK})
    planned = sorted({t.task_spec.name for t in stray} - set(passed))
    if passed:
        plan.reasons.append("the case already passed " + ", ".join(passed) + ", which the new version removes; "
                            "its history could not be read on the new version")
    if planned:
        plan.reasons.append("the case's predicted path still holds " + ", ".join(planned) + ", which the new "
                            "version removes")
    if stray:
        return plan
    if not verify:
        return plan
    try:
        runtime.run_engine(workflow)
        load_state(dump_state(workflow), new_spec_json, runtime.ScriptEngine())
    except Exception as exc:  # the new diagram fails on this case's data: refuse, never half-migrate
        plan.reasons.append(f"the case cannot continue on the new version: {runtime.describe_error(exc)}")
    return plan


def _check_flow(plan: MigrationPlan, flow, target_spec, changes: _SpecChanges, old_meta: dict,
                new_meta: dict) -> None:
    """Refuse tokens on removed, moved or retyped elements, changed running timers and service calls, and
    incompatible forms of open tasks."""
    for task in flow.tasks.values():
        if not task.state & _OPEN:
            continue
        spec = task.task_spec
        target = changes.aligned(spec.name, target_spec)
        where = spec.bpmn_id or spec.name
        if target is None or target.name != spec.name:
            plan.reasons.append(f"{where}: the case waits here, and the new version no longer has this element")
            continue
        changed = changes.changed.get(spec.name, frozenset())
        if "typename" in changed:
            plan.reasons.append(f"{where}: the case waits here, and the element changed its type "
                                f"({type(spec).__name__} → {type(target).__name__})")
        elif isinstance(spec, CatchingEvent) and task.state == TaskState.WAITING and "event_definition" in changed:
            plan.reasons.append(f"{where}: the case waits on this event, whose definition (timer, message) "
                                "changed; let it happen first")
        elif isinstance(spec, ServiceTask) and changed & _SERVICE_FIELDS:
            plan.reasons.append(f"{where}: a service call is pending here, and its operator or parameters changed")
        elif task.state == TaskState.STARTED and "spec" in changed:
            plan.reasons.append(f"{where}: the case is inside this call activity, which now calls another process")
        old_task = old_meta.get("user_tasks", {}).get(spec.name)
        new_task = new_meta.get("user_tasks", {}).get(spec.name)
        if task.state == TaskState.READY and old_task and new_task:
            problems = form_incompatibilities(old_task.get("form"), new_task.get("form"))
            if problems:
                plan.reasons.append(f"{where}: the open task's form changed incompatibly ({'; '.join(problems)})")
            if old_task.get("role") != new_task.get("role"):
                plan.notes.append(f"{where}: the open task moves from role {old_task.get('role')} to "
                                  f"{new_task.get('role')}; its claim is released")


def form_incompatibilities(old: dict | None, new: dict | None) -> list[str]:
    """Why data entered on the old form might not fit the new one: fields removed, retyped, or allowing fewer
    values. New fields, even required ones, are compatible: the officer has not submitted the form yet."""
    old_fields = (old or {}).get("properties") or {}
    new_fields = (new or {}).get("properties") or {}
    if not old_fields:
        return []
    problems = []
    for name, before in old_fields.items():
        after = new_fields.get(name)
        if after is None:
            problems.append(f"field {name} removed")
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            if before.get("type") != after.get("type"):
                problems.append(f"field {name} changed type {before.get('type')} → {after.get('type')}")
            elif "enum" in after and any(v not in after["enum"] for v in before.get("enum", [None])):
                problems.append(f"field {name} allows fewer values")
    return problems
