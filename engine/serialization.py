"""Instance state <-> bytes, with the spec stored once per deployed version, not in every instance.

SpiffWorkflow's ``serialize_json`` embeds the whole spec in every instance (about 70% of a fresh one). Here the
instance state holds only tasks and data; the spec JSON of its definition row is put back on load. The state is
JSON compressed with zlib. Each row records ``serializer_version`` (SpiffWorkflow's) and ``STATE_VERSION`` (ours)
so a later format change can migrate old rows.
"""
from __future__ import annotations

import json
import zlib
from datetime import date, datetime
from decimal import Decimal

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG

from engine.timers import LegalDurationTimerEventDefinition

STATE_VERSION = 1


class _StateOnlyConverter(BpmnWorkflowConverter):
    """Writes a workflow without its specs; reads it back with specs supplied by the caller."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _config(workflow_converter):
    config = dict(DEFAULT_CONFIG)
    config[LegalDurationTimerEventDefinition] = TimerConditionalEventDefinitionConverter
    config[BpmnWorkflow] = workflow_converter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(date, lambda d: {"value": d.isoformat()}, lambda d: date.fromisoformat(d["value"]))
    registry.register(datetime, lambda d: {"value": d.isoformat()}, lambda d: datetime.fromisoformat(d["value"]))
    registry.register(Decimal, lambda d: {"value": str(d)}, lambda d: Decimal(d["value"]))
    return BpmnWorkflowSerializer(registry)


_FULL = _config(BpmnWorkflowConverter)      # spec included: used once per deploy, and by the benchmark baseline
_STATE = _config(_StateOnlyConverter)


def spec_json(spec, subprocess_specs) -> str:
    """The JSON stored once per definition version."""
    dct = _FULL.to_dict(BpmnWorkflow(spec, subprocess_specs))
    return json.dumps({"spec": dct["spec"], "subprocess_specs": dct["subprocess_specs"]}, separators=(",", ":"))


def dump_state(workflow) -> bytes:
    text = json.dumps(_STATE.to_dict(workflow), separators=(",", ":"))
    return zlib.compress(text.encode(), 1)


def load_state(state: bytes, spec_text: str, script_engine) -> BpmnWorkflow:
    """Rebuild a workflow with FRESH spec objects (SpiffWorkflow mutates specs at run time: never share them)."""
    dct = json.loads(zlib.decompress(state))
    specs = json.loads(spec_text)
    dct["spec"], dct["subprocess_specs"] = specs["spec"], specs["subprocess_specs"]
    workflow = _STATE.from_dict(dct)
    workflow.script_engine = script_engine
    return workflow


def new_workflow(spec_text: str, script_engine) -> BpmnWorkflow:
    """A fresh instance of a stored spec."""
    specs = json.loads(spec_text)
    registry = _STATE.registry
    spec = registry.restore(specs["spec"])
    subprocess_specs = {name: registry.restore(s) for name, s in specs["subprocess_specs"].items()}
    return BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)


def full_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's default serializer (spec embedded), for baselines and exports."""
    return _FULL
