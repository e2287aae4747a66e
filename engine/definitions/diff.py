"""Comparing two versions of a procedure (版本比较): which elements were added, removed or changed.

Elements are matched by BPMN id. An element's engine-relevant properties are what the engine reads from it: type,
name, lane (the role), flow source/target and condition, default flow, boundary attachment, event definitions
(timer text, message name), script, called process or decision, and every ``spiffworkflow:`` extension
(properties such as ``formJsonSchemaFilename``/``dueIn``/``excludeCompletersOf``, service operator and
parameters, instructions, payloads). A user task's form and a business rule task's decision table are compared by
content too, since a new version may change a form file without touching the diagram. Layout is ignored.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_SKIP = {"laneSet", "extensionElements", "documentation", "incoming", "outgoing", "ioSpecification",
         "dataInputAssociation", "dataOutputAssociation", "property", "textAnnotation", "association"}


@dataclass(frozen=True)
class ElementChange:
    element_id: str
    kind: str                   # added | removed | changed
    type: str                   # BPMN element type (the new one, for a changed element)
    name: str
    changes: tuple = ()         # (property, old value, new value) for a changed element


@dataclass(frozen=True)
class VersionDiff:
    process_id: str
    elements: tuple[ElementChange, ...]

    def of(self, kind: str) -> list[ElementChange]:
        return [e for e in self.elements if e.kind == kind]


def diff_versions(process_id: str, old_xml: str, old_files: Mapping[str, str], new_xml: str,
                  new_files: Mapping[str, str]) -> VersionDiff:
    """Compare ``process_id`` in two diagrams; ``*_files`` are the sets they were deployed with (forms, DMN)."""
    old = elements(process_id, old_xml, old_files)
    new = elements(process_id, new_xml, new_files)
    out = []
    for element_id in sorted(old.keys() - new.keys()):
        out.append(ElementChange(element_id, "removed", old[element_id]["type"], old[element_id].get("name", "")))
    for element_id in sorted(new.keys() - old.keys()):
        out.append(ElementChange(element_id, "added", new[element_id]["type"], new[element_id].get("name", "")))
    for element_id in sorted(old.keys() & new.keys()):
        a, b = old[element_id], new[element_id]
        changes = tuple((key, a.get(key, ""), b.get(key, "")) for key in sorted(a.keys() | b.keys())
                        if a.get(key, "") != b.get(key, ""))
        if changes:
            out.append(ElementChange(element_id, "changed", b["type"], b.get("name", ""), changes))
    return VersionDiff(process_id, tuple(out))


def elements(process_id: str, xml: str, files: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``{element id: {property: text}}`` for the process and everything in it (lanes, nodes, flows)."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml,
                            etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True))
    process = next((p for p in root.iter(f"{{{BPMN}}}process") if p.get("id") == process_id), None)
    if process is None:
        return {}
    messages = {m.get("id"): m.get("name") or m.get("id") for m in root.iter(f"{{{BPMN}}}message")}
    lanes = {ref.text.strip(): lane.get("name") or lane.get("id")
             for lane in process.iter(f"{{{BPMN}}}lane") for ref in lane.findall(f"{{{BPMN}}}flowNodeRef")
             if ref.text}
    out = {process_id: {"type": "process", "name": process.get("name") or "", **_extensions(process)}}
    for lane in process.iter(f"{{{BPMN}}}lane"):
        out[lane.get("id")] = {"type": "lane", "name": lane.get("name") or ""}
    for el in _flow_elements(process):
        out[el.get("id")] = _properties(el, lanes, messages, files)
    return out


def _flow_elements(container):
    for el in container:
        if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN or not el.get("id"):
            continue
        if etree.QName(el).localname in _SKIP:
            continue
        yield el
        if etree.QName(el).localname in ("subProcess", "transaction", "adHocSubProcess"):
            yield from _flow_elements(el)


def _properties(el, lanes: dict, messages: dict, files: Mapping[str, str]) -> dict[str, str]:
    kind = etree.QName(el).localname
    props = {"type": kind, "name": el.get("name") or ""}
    if el.get("id") in lanes:
        props["lane"] = lanes[el.get("id")]
    for attr in ("sourceRef", "targetRef", "default", "attachedToRef", "cancelActivity", "calledElement",
                 "triggeredByEvent", "isInterrupting"):
        if el.get(attr) is not None:
            props[attr] = el.get(attr)
    for child in el:
        if not isinstance(child.tag, str) or etree.QName(child).namespace != BPMN:
            continue
        name = etree.QName(child).localname
        if name == "conditionExpression":
            props["condition"] = _text(child)
        elif name == "script":
            props["script"] = _text(child)
        elif name.endswith("EventDefinition"):
            props[name] = _event(child, messages)
        elif name in ("multiInstanceLoopCharacteristics", "standardLoopCharacteristics"):
            props[name] = " ".join(f"{k}={v}" for k, v in sorted(child.attrib.items())) + " " + " ".join(
                f"{etree.QName(c).localname}={_text(c)}" for c in child if isinstance(c.tag, str))
    props.update(_extensions(el))
    form = props.get("property[formJsonSchemaFilename]")
    if form:
        props["form fields"] = _form_summary(files.get(form))
    decision = props.get("calledDecisionId")
    if decision:
        props["decision table"] = _decision_digest(decision, files)
    return props


def _event(definition, messages: dict) -> str:
    parts = []
    if definition.get("messageRef"):
        parts.append(f"message {messages.get(definition.get('messageRef'), definition.get('messageRef'))}")
    for attr in ("errorRef", "signalRef", "escalationRef"):
        if definition.get(attr):
            parts.append(f"{attr[:-3]} {definition.get(attr)}")
    for child in definition:
        if isinstance(child.tag, str) and etree.QName(child).namespace == BPMN:
            parts.append(f"{etree.QName(child).localname} {_text(child)}")
    parts += [f"{k} {v}" for k, v in sorted(_extensions(definition).items())]
    return "; ".join(parts)


def _extensions(el) -> dict[str, str]:
    """Every ``spiffworkflow:`` element under the element's own extensionElements, flattened to one text each."""
    out: dict = {}
    holder = el.find(f"{{{BPMN}}}extensionElements")
    if holder is None:
        return out

    def walk(node, path):
        for child in node:
            if not isinstance(child.tag, str) or etree.QName(child).namespace != SPIFF:
                continue
            name = etree.QName(child).localname
            if name == "property":
                out[f"property[{child.get('name')}]"] = child.get("value") or _text(child)
                continue
            key_attr = "id" if name == "parameter" else None
            key = f"{path}{name}" + (f"[{child.get(key_attr)}]" if key_attr else "")
            attrs = " ".join(f"{k}={v}" for k, v in sorted(child.attrib.items()) if k != key_attr)
            text = _text(child) if len(child) == 0 else ""
            if attrs or text:
                out[key] = " ".join(filter(None, [text, attrs]))
            walk(child, f"{key}/" if name not in ("properties", "parameters") else path)

    walk(holder, "")
    return out


def _form_summary(text: str | None) -> str:
    if text is None:
        return "(missing)"
    try:
        schema = json.loads(text)
    except ValueError:
        return "(not JSON)"
    fields = schema.get("properties") or {}
    parts = [f"{name}:{(spec or {}).get('type', '?')}" + ("*" if name in (schema.get("required") or []) else "")
             + (f"∈{spec['enum']}" if isinstance(spec, dict) and "enum" in spec else "")
             for name, spec in fields.items()]
    return ", ".join(parts) + f" #{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _decision_digest(decision: str, files: Mapping[str, str]) -> str:
    for name, text in sorted(files.items()):
        if name.endswith(".dmn") and re.search(rf'\bid="{re.escape(decision)}"', text):
            body = re.sub(r"<dmndi:.*?</dmndi:DMNDI>", "", text, flags=re.S)
            return f"{name} #{hashlib.sha256(body.encode()).hexdigest()[:8]}"
    return "(missing)"


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split())
