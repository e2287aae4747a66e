"""Deploying diagrams: validate a set of files, then store one immutable version per process (``name@N``).

A version is content-hashed (its spec and the metadata the engine reads: lanes→roles, forms, due periods,
separation-of-duty rules), so re-deploying unchanged files creates nothing. Instances keep the version they
started on. Parsing happens here, once per deploy; instances are rebuilt from the stored spec JSON.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.none_task import NoneTask
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.defaults import ManualTask, ServiceTask, UserTask

from engine.court.roles import role_for_lane
from engine.definitions.validation import Problem, validate_files
from engine.errors import DefinitionInvalid
from engine.kernel.casefile import parse_form_records
from engine.kernel.serialization import spec_json
from engine.legaltime.timers import use_legal_durations


@dataclass(frozen=True)
class ParsedProcess:
    process_id: str
    name: str
    file_name: str
    spec_json: str
    meta: dict
    content_hash: str


def parse(files: Mapping[str, bytes], known_processes=(), registry=None) -> list[ParsedProcess]:
    """Validate and parse a deployment set; raise ``DefinitionInvalid`` listing every problem."""
    problems = validate_files(files, registry=registry, known_processes=known_processes)
    if problems:
        raise DefinitionInvalid(problems)
    parser = SpiffBpmnParser()
    for name, content in sorted(files.items()):
        try:
            if name.endswith(".bpmn"):
                parser.add_bpmn_str(content, filename=name)
            elif name.endswith(".dmn"):
                parser.add_dmn_str(content, filename=name)
        except Exception as exc:  # validation should have caught it (it refuses DTDs); still never a traceback
            raise DefinitionInvalid([Problem(name, getattr(exc, "lineno", 0) or 0, "-", f"cannot be read: {exc}")]) \
                from exc
    parsed = []
    process_properties = _process_properties(files)
    message_keys = _message_keys(files)
    for process_id in parser.get_process_ids():
        try:
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
        except Exception as exc:  # validation should have caught it; still never a traceback
            raise DefinitionInvalid([Problem(getattr(exc, "file_name", "") or "-", 0, process_id, str(exc))]) from exc
        all_specs = [spec, *subprocess_specs.values()]
        _prepare(all_specs)
        meta = _meta(all_specs, files)
        props = process_properties.get(process_id, {})
        meta["case_type"] = props.get("caseType")
        meta["key_field"] = props.get("correlationKey", "case_no")
        meta["message_keys"] = message_keys
        meta["case_fields"] = [f.strip() for f in props.get("caseFields", "").split(",") if f.strip()]
        text = spec_json(spec, subprocess_specs)
        digest = hashlib.sha256((text + json.dumps(meta, sort_keys=True)).encode()).hexdigest()
        file_name = parser.get_process_parser(process_id).filename or "-"
        parsed.append(ParsedProcess(process_id, spec.description or process_id, file_name, text, meta, digest))
    return parsed


def _prepare(specs) -> None:
    """Adapt parsed specs to the engine: service tasks wait for a job, plain tasks run through, legal timers."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, ServiceTask):
                task_spec.manual = True       # executed by a job outside the instance transaction
            elif isinstance(task_spec, NoneTask) and not isinstance(task_spec, (UserTask, ManualTask)):
                task_spec.manual = False      # a bare bpmn:task is a placeholder that passes straight through
    use_legal_durations(specs)


def _meta(specs, files: Mapping[str, bytes]) -> dict:
    """What the engine needs at run time besides the spec, frozen with the version."""
    user_tasks, message_starts = {}, []
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, (UserTask, ManualTask)):
                props = task_spec.extensions.get("properties", {})
                form = props.get("formJsonSchemaFilename")
                ui = props.get("formUiSchemaFilename")
                exclude = [x.strip() for x in props.get("excludeCompletersOf", "").split(",") if x.strip()]
                user_tasks[task_spec.bpmn_id] = {
                    "name": task_spec.bpmn_name or task_spec.bpmn_id,
                    "lane": task_spec.lane,
                    "role": role_for_lane(task_spec.lane),
                    "form": json.loads(files[form]) if form else None,
                    "ui": json.loads(files[ui]) if ui else None,
                    "due_in": props.get("dueIn"),
                    "exclude": exclude,
                    "instructions": task_spec.extensions.get("instructionsForEndUser"),
                    "records": [vars(r) for r in _form_records(props.get("caseRecords"))],
                }
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(task_spec, StartEvent) and isinstance(definition, MessageEventDefinition) \
                    and spec is specs[0]:
                message_starts.append(definition.name)
    return {"user_tasks": user_tasks, "message_starts": sorted(message_starts)}


def _form_records(text):
    """The task's ``caseRecords`` (validation reported any mistake before parsing)."""
    try:
        return parse_form_records(text)
    except ValueError:
        return []


_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_PROPERTY = ("{http://www.omg.org/spec/BPMN/20100524/MODEL}extensionElements/"
             "{http://spiffworkflow.org/bpmn/schema/1.0/core}properties/"
             "{http://spiffworkflow.org/bpmn/schema/1.0/core}property")


def _elements(files: Mapping[str, bytes], tag: str):
    """Each ``tag`` element of the set's diagrams with its ``spiffworkflow:property`` values, which SpiffWorkflow
    does not parse for processes and messages."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for name, content in sorted(files.items()):
        if name.endswith(".bpmn"):
            for element in etree.fromstring(content, parser).iter(_BPMN + tag):
                yield element, {p.get("name"): p.get("value") for p in element.findall(_PROPERTY)}


def _process_properties(files: Mapping[str, bytes]) -> dict[str, dict[str, str]]:
    """``caseType``, ``correlationKey`` and ``caseFields`` of each process."""
    return {process.get("id"): props for process, props in _elements(files, "process")}


def _message_keys(files: Mapping[str, bytes]) -> dict[str, str]:
    """Messages that correlate on another field than their process's key (``correlationKey`` on the message).
    Several files may declare a shared message; a key declared in any of them counts."""
    keys: dict[str, str] = {}
    for message, props in _elements(files, "message"):
        if props.get("correlationKey"):
            keys.setdefault(message.get("name"), props["correlationKey"])
    return keys
