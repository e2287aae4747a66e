"""Instance state <-> bytes, with the spec stored once per deployed version, not in every instance.

SpiffWorkflow's ``serialize_json`` embeds the whole spec in every instance (about 70% of a fresh one). Here the
instance state holds only tasks and data; the spec of its definition row is put back on load. The state is JSON
compressed with zlib. Each row records ``serializer_version`` (SpiffWorkflow's) and ``STATE_VERSION`` (ours) so a
later format change can migrate old rows.

Two caches keep loads and saves cheap, neither sharing anything an instance changes:

* restored specs are kept per spec text. SpiffWorkflow changes a spec at run time only when an event subprocess
  is first triggered (it connects it to the start: the probe ``t11b_spec_mutation.py`` shows that leaking into
  other instances) and when a loop or multi-instance task first runs (it adds a listener): specs without those are
  shared by every instance of the process (read only, also across threads); the others are kept as a pickle and
  each instance unpickles a fresh copy;
* the dict of a finished task (finished parent too) does not change, so it is kept on its workflow (from the
  load, or from the first save) and reused while the task's state, state-change time and children are unchanged:
  saving a case with a long history only converts what moved.
"""
from __future__ import annotations

import json
import pickle
import zlib
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.kernel.workflow import ZhixingWorkflow
from engine.legaltime.timers import (
    BoundedCycleTimerEventDefinition,
    ClockDateTimerEventDefinition,
    LegalDurationTimerEventDefinition,
)

STATE_VERSION = 1
__all__ = ["SERIALIZER_VERSION", "STATE_VERSION", "dump_state", "full_serializer", "load_state", "new_workflow",
           "spec_json"]


class _StateOnlyConverter(BpmnWorkflowConverter):
    """Writes a workflow without its specs; reads it back onto spec objects the caller supplies."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = dct.pop("spec_objects")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_SEPARATORS = (",", ":")


class _Encoded(dict):
    """A finished task's dict together with its JSON text, written as is by ``dump_state``."""

    __slots__ = ("json",)
    json: str | None


def _cache_key(task):
    """What must stay the same for a task's dict to be reused; None when it may change (not finished, or its
    parent is not: its data is stored as changes against the parent's)."""
    parent = task.parent
    if task.state & TaskState.FINISHED_MASK and parent is not None and parent.state & TaskState.FINISHED_MASK:
        return task.state, task.last_state_change, len(task._children)
    return None


def _keep(task, key, dct: dict) -> dict:
    dct = _Encoded(dct)
    dct.json = None           # encoded on first write, once the registry has added its typename
    task.workflow.__dict__.setdefault("_zhixing_task_dicts", {})[task.id] = (key, dct)
    return dct


class _CachingTaskConverter(TaskConverter):
    """Reuses the dict (and JSON) of a finished task whose parent is finished too (see the module docstring); the
    dicts a load read are kept too, so saving a case loaded from the store converts only what moved."""

    def to_dict(self, task):
        key = _cache_key(task)
        if key is None:
            return super().to_dict(task)
        hit = task.workflow.__dict__.get("_zhixing_task_dicts", {}).get(task.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        return _keep(task, key, super().to_dict(task))

    def from_dict(self, dct, workflow):
        task = super().from_dict(dct, workflow)
        workflow.__dict__.setdefault("_zhixing_loaded", []).append((task, dct))
        return task


def _keep_loaded(workflow) -> None:
    """After a load, keep the dicts read for the tasks whose dict cannot change (their parents are known now)."""
    for flow in (workflow, *workflow.subprocesses.values()):
        for task, dct in flow.__dict__.pop("_zhixing_loaded", ()):
            key = _cache_key(task)
            if key is not None:
                _keep(task, key, dct)


def _task_json(dct: dict) -> str:
    if not isinstance(dct, _Encoded):
        return json.dumps(dct, separators=_SEPARATORS)
    if dct.json is None:
        dct.json = json.dumps(dct, separators=_SEPARATORS)
    return dct.json


def _encode(dct: dict) -> str:
    """``json.dumps`` of a workflow dict, pasting the cached JSON of finished tasks instead of re-encoding it."""
    dct = dict(dct)
    tasks = dct.pop("tasks", None)
    subprocesses = dct.pop("subprocesses", None)
    parts = [json.dumps(dct, separators=_SEPARATORS)[:-1]]
    if tasks is not None:
        parts.append(',"tasks":{' + ",".join(f'"{k}":' + _task_json(v) for k, v in tasks.items()) + "}")
    if subprocesses is not None:
        parts.append(',"subprocesses":{' + ",".join(f'"{k}":' + _encode(v) for k, v in subprocesses.items()) + "}")
    text = "".join(parts) + "}"
    return text if text[1] != "," else "{" + text[2:]


def _config(workflow_class, workflow_converter, task_converter=TaskConverter):
    config = dict(DEFAULT_CONFIG)
    config[LegalDurationTimerEventDefinition] = TimerConditionalEventDefinitionConverter
    config[ClockDateTimerEventDefinition] = TimerConditionalEventDefinitionConverter
    config[BoundedCycleTimerEventDefinition] = TimerConditionalEventDefinitionConverter
    config.pop(BpmnWorkflow)
    config[workflow_class] = workflow_converter
    config[Task] = task_converter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(date, lambda d: {"value": d.isoformat()}, lambda d: date.fromisoformat(d["value"]))
    registry.register(datetime, lambda d: {"value": d.isoformat()}, lambda d: datetime.fromisoformat(d["value"]))
    registry.register(Decimal, lambda d: {"value": str(d)}, lambda d: Decimal(d["value"]))
    return BpmnWorkflowSerializer(registry)


_FULL = _config(BpmnWorkflow, BpmnWorkflowConverter)
# spec included: used once per deploy, and by the benchmark baseline; exports read back as plain SpiffWorkflow
_FULL.registry.typenames[ZhixingWorkflow] = "BpmnWorkflow"
_STATE = _config(ZhixingWorkflow, _StateOnlyConverter, _CachingTaskConverter)


def spec_json(spec, subprocess_specs) -> str:
    """The JSON stored once per definition version."""
    dct = _FULL.to_dict(BpmnWorkflow(spec, subprocess_specs))
    return json.dumps({"spec": dct["spec"], "subprocess_specs": dct["subprocess_specs"]}, separators=(",", ":"))


_RESTORED: dict[str, tuple] = {}       # spec text -> (shared specs or None, pickle of the specs as restored)


def _restored(spec_text: str) -> tuple:
    found = _RESTORED.get(spec_text)
    if found is None:
        specs = json.loads(spec_text)
        registry = _STATE.registry
        objects = (registry.restore(specs["spec"]),
                   {name: registry.restore(s) for name, s in specs["subprocess_specs"].items()})
        shared = objects if read_only_at_run_time(objects[0], *objects[1].values()) else None
        if len(_RESTORED) >= 256:
            _RESTORED.clear()
        found = _RESTORED[spec_text] = (shared, pickle.dumps(objects, protocol=pickle.HIGHEST_PROTOCOL))
    return found


def read_only_at_run_time(*specs) -> bool:
    """No event subprocess to trigger and no loop or multi-instance task: running never changes these specs."""
    return not any(isinstance(task_spec, LoopTask) or getattr(task_spec, "trigger_specs", None)
                   for spec in specs for task_spec in spec.task_specs.values())


def changed_shared_specs() -> list[str]:
    """Names of shared specs that running instances changed after all (the tests check there are none)."""
    return [shared[0].name for shared, pickled in list(_RESTORED.values())
            if shared is not None and pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL) != pickled]


def _specs(spec_text: str):
    """The spec objects for one instance: the shared ones, or a fresh copy."""
    shared, pickled = _restored(spec_text)
    return shared if shared is not None else pickle.loads(pickled)


def dump_state(workflow) -> bytes:
    return zlib.compress(_encode(_STATE.to_dict(workflow)).encode(), 1)


def load_state(state: bytes, spec_text: str, script_engine) -> BpmnWorkflow:
    dct = json.loads(zlib.decompress(state))
    dct["spec_objects"] = _specs(spec_text)
    workflow = _STATE.from_dict(dct)
    _keep_loaded(workflow)
    workflow.script_engine = script_engine
    return workflow


def new_workflow(spec_text: str, script_engine) -> BpmnWorkflow:
    """A fresh instance of a stored spec."""
    spec, subprocess_specs = _specs(spec_text)
    return ZhixingWorkflow(spec, subprocess_specs, script_engine=script_engine)


def full_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's default serializer (spec embedded), for baselines and exports."""
    return _FULL
