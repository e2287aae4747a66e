"""Checks on a BPMN file's structure and on what zhixing reads from its tasks (operators, lanes, forms, calls)."""
from __future__ import annotations

from collections import defaultdict

import jsonschema

from engine.court.courts import CASE_TYPES
from engine.court.roles import ROLES, role_for_lane
from engine.definitions.form_schema import pattern_problems
from engine.definitions.validation import texts
from engine.definitions.validation.report import NS, Problem, Report, local, q
from engine.kernel.casefile import parse_form_records
from engine.legaltime.periods import parse_period

FLOW_NODES = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "task",
    "userTask", "manualTask", "scriptTask", "serviceTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess", "exclusiveGateway", "inclusiveGateway",
    "parallelGateway", "eventBasedGateway", "complexGateway"})
SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")
HUMAN = {"userTask": "user task", "manualTask": "manual task"}
_ROLE_LIST = ", ".join(f"{code} ({zh})" for code, (zh, _en) in ROLES.items())


def check_bpmn(r: Report, file: str, root) -> None:
    procs = list(root.iter(q("process")))
    if not any(p.get("isExecutable", "true") == "true" for p in procs):
        r.add(file, root, 'defines no executable process; add a bpmn:process with isExecutable="true"', "-")
    messages = {m.get("id") for m in root.iter(q("message"))}
    for message in root.iter(q("message")):
        _engine_properties(r, file, message)
    for proc in procs:
        _engine_properties(r, file, proc)
        for scope in proc.iter(*map(q, SCOPES)):
            _flows(r, file, scope)
        for el in proc.iter():
            kind = local(el)
            if kind == "serviceTask":
                _service(r, file, el)
            elif kind in HUMAN:
                _human(r, file, el, HUMAN[kind])
            elif kind == "callActivity":
                _call(r, file, el)
            elif kind == "businessRuleTask":
                _decision(r, file, el)
            elif kind in ("exclusiveGateway", "inclusiveGateway"):
                _gateway(r, file, el)
            elif kind == "messageEventDefinition" and el.get("messageRef") not in messages:
                r.add(file, el, f"messageRef '{el.get('messageRef')}' names no bpmn:message in this file; "
                                "declare <bpmn:message id=... name=...> or fix the reference" if el.get("messageRef")
                      else "message event names no message; set messageRef to a bpmn:message of this file")
            else:
                texts.check_text(r, file, el, kind)
    for el in root.iter(q("formalExpression")):   # correlation property retrieval expressions
        r.expr(file, el, el.text, "eval", "correlation expression")


def _engine_properties(r: Report, file: str, element) -> None:
    """Engine properties of a process (``caseType``, ``correlationKey``, ``caseFields``) or of a message
    (``correlationKey``: the data field that message correlates on)."""
    for prop in element.findall(f"{q('extensionElements')}/{{{NS['spiffworkflow']}}}properties/"
                                f"{{{NS['spiffworkflow']}}}property"):
        name, value = prop.get("name"), prop.get("value") or ""
        if name == "caseType" and value not in CASE_TYPES:
            r.add(file, prop, f"caseType '{value}' is not a case type code; use one of {', '.join(CASE_TYPES)}",
                  element.get("id"))
        elif name == "correlationKey" and not value.isidentifier():
            r.add(file, prop, f"correlationKey '{value}' is not a data field name; use e.g. case_no or debtor_id",
                  element.get("id"))
        elif name == "caseFields" and not all(f.strip().isidentifier() for f in value.split(",")):
            r.add(file, prop, f"caseFields '{value}' is not a comma-separated list of data field names",
                  element.get("id"))


def _flows(r: Report, file: str, scope) -> None:
    """Dangling flow references (reported on the flow) and nodes that no entry point of the scope reaches."""
    nodes = {el.get("id"): el for el in scope if local(el) in FLOW_NODES}
    succ: dict[str, list[str]] = defaultdict(list)
    incoming: set[str] = set()
    for flow in scope.iterchildren(q("sequenceFlow")):
        ends = [(attr, flow.get(attr)) for attr in ("sourceRef", "targetRef")]
        for attr, ref in ends:
            if ref is not None and ref not in nodes:
                r.add(file, flow, f"{attr} '{ref}' is in another process or subprocess; a sequence flow connects "
                                  "nodes of the same level: use a message, or move one of them" if ref in r.by_id
                      else f"{attr} '{ref}' names no element; point it at a flow node of this process")
        if all(ref in nodes for _attr, ref in ends):
            succ[ends[0][1]].append(ends[1][1])
            incoming.add(ends[1][1])
    links = defaultdict(list)    # link throw -> link catch of the same name
    for nid, el in nodes.items():
        if el.find(q("linkEventDefinition")) is not None and local(el) == "intermediateCatchEvent":
            links[el.find(q("linkEventDefinition")).get("name")].append(nid)
    for nid, el in nodes.items():
        if el.find(q("linkEventDefinition")) is not None and local(el) == "intermediateThrowEvent":
            succ[nid].extend(links.get(el.find(q("linkEventDefinition")).get("name"), []))
        if local(el) == "boundaryEvent":
            if el.get("attachedToRef") in nodes:
                succ[el.get("attachedToRef")].append(nid)
            else:
                r.add(file, el, f"attachedToRef '{el.get('attachedToRef')}' names no activity here; "
                                "attach the boundary event to an activity of the same process")
    if local(scope) == "adHocSubProcess":
        todo = [n for n in nodes if n not in incoming]
    else:
        todo = [n for n, el in nodes.items() if local(el) == "startEvent"]
        if not todo:
            r.add(file, scope, f"{local(scope)} has no start event; add one where the flow begins")
            return
        todo += [n for n, el in nodes.items() if el.get("triggeredByEvent") == "true"]   # event subprocesses
    seen = set(todo)
    while todo:
        for nxt in succ[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for nid, el in nodes.items():
        if nid not in seen and el.get("isForCompensation") != "true":
            r.add(file, el, "not reachable from a start event; connect it with a sequence flow or remove it")


def _service(r: Report, file: str, task) -> None:
    op = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    if op is None or not (op.get("id") or "").strip():
        r.add(file, task, 'service task has no operator; add <spiffworkflow:serviceTaskOperator id="..."> '
                          "naming a registered handler")
        return
    name = op.get("id").strip()
    spec = r.registry.get(name)
    if spec is None:
        known = ", ".join(s.name for s in r.registry) or "none"
        r.add(file, op, f"operator '{name}' is not registered; known operators: {known}")
    given: set[str] = set()
    for param in op.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS):
        pid, value = param.get("id"), param.get("value")
        if not pid:
            r.add(file, param, "parameter has no id; set id to the handler's parameter name")
            continue
        if pid in given:
            r.add(file, param, f"parameter '{pid}' is given twice; keep one")
        given.add(pid)
        if value is None or not value.strip():
            r.add(file, param, f"parameter '{pid}' has no value; write an expression "
                               "(a literal text needs quotes: 'text')")
        r.expr(file, param, value, "eval", f"parameter '{pid}'")
    for message in spec.parameter_problems(given) if spec else ():
        r.add(file, op, message)
    retry = op.find("spiffworkflow:retry", NS)
    for attr in ("retries", "backoff_base") if retry is not None else ():
        value = (retry.get(attr) or "").strip()
        if value.startswith("-") and value[1:].isdigit():   # other non-integers fail the XSD already
            r.add(file, retry, f'retry {attr}="{value}" must not be negative; use 0 or more')


def _human(r: Report, file: str, task, kind: str) -> None:
    lane = r.lanes[file].get(task.get("id"))
    override = r.lane_overrides.get(file, {}).get(task.get("id"))
    if override is not None:
        own, sub = override
        sub_lane = (lane.get("name") if lane is not None else "") or ""
        r.add(file, task, f"{kind} is in lane '{own.get('name') or ''}' but inside subprocess '{sub.get('id')}', which "
                          f"is in lane '{sub_lane}': SpiffWorkflow gives every task of a subprocess the "
                          "subprocess's lane; leave the subprocess out of the lanes, or put the task in its lane")
    elif lane is None:
        r.add(file, task, f"{kind} is not in a lane; put it in the lane of the role that does it")
    elif role_for_lane(lane.get("name")) is None:
        r.add(file, task, f"{kind} is in lane '{lane.get('name') or ''}', which names no role; name the lane "
                          f"after a role: {_ROLE_LIST}")
    for prop in task.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
        name, value = prop.get("name"), prop.get("value") or ""
        if name in ("formJsonSchemaFilename", "formUiSchemaFilename") and value:
            if value not in r.files:
                r.add(file, prop, f"{name} '{value}' is not in the deployment; put the file beside the "
                                  "diagram and deploy them together")
            elif name == "formJsonSchemaFilename":
                _form_schema(r, value)
        elif name == "dueIn":
            try:
                parse_period(value)
            except ValueError as exc:
                r.add(file, prop, f"dueIn: {exc}")
        elif name == "caseRecords":
            _case_records(r, file, task, prop, value)
        elif name == "excludeCompletersOf":
            for ref in filter(None, (x.strip() for x in value.split(","))):
                if ref == "related:*":      # any task completed on the related case (审执分离)
                    continue
                ref = ref.removeprefix("related:")
                kinds = {local(el) for _f, el in r.by_id.get(ref, [])}
                if not kinds & HUMAN.keys():
                    what = f"a {'/'.join(sorted(kinds))}" if kinds else "no element of this deployment"
                    r.add(file, prop, f"excludeCompletersOf names '{ref}', which is {what}; "
                                      "list the ids of user tasks, separated by commas "
                                      "(related:ID or related:* for tasks of the related case)")


def _case_records(r: Report, file: str, task, prop, value: str) -> None:
    """``caseRecords``: which form fields become which case-file records (engine/kernel/casefile.py); each
    field must be one the task's form declares."""
    try:
        declared = parse_form_records(value)
    except ValueError as exc:
        r.add(file, prop, f"caseRecords: {exc}")
        return
    form_name = next((p.get("value") for p in task.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)
        if p.get("name") == "formJsonSchemaFilename"), None)
    form = r.json.get(form_name) if form_name else None
    fields = set((form or {}).get("properties") or {}) if isinstance(form, dict) else set()
    for decl in declared:
        if decl.field not in fields:
            r.add(file, prop, f"caseRecords names the field '{decl.field}', which the task's form "
                              f"{form_name or '(none)'} does not declare; add it to the form or remove it here")


def _form_schema(r: Report, name: str) -> None:
    if name in r.schemas_checked or name not in r.json:
        return
    r.schemas_checked.add(name)
    try:
        jsonschema.Draft202012Validator.check_schema(r.json[name])
    except jsonschema.SchemaError as exc:
        where = "/".join(map(str, exc.path)) or "top level"
        r.problems.append(Problem(name, 0, "-", f"not a valid JSON Schema (draft 2020-12): {exc.message} "
                                                f"at {where}; fix the form schema"))
        return
    for problem in pattern_problems(r.json[name]):       # RE2: linear time, or refused here
        r.problems.append(Problem(name, 0, "-", problem))


def _call(r: Report, file: str, el) -> None:
    called = (el.get("calledElement") or "").strip()
    if not called:
        r.add(file, el, "call activity has no calledElement; set it to the id of the process to call")
    elif called not in r.processes and called not in r.known:
        here = ", ".join(sorted(r.processes))
        r.add(file, el, f"calls process '{called}', which is neither in this deployment nor deployed; "
                        f"fix calledElement or deploy that process first (processes here: {here})")


def _decision(r: Report, file: str, el) -> None:
    ref = el.find("bpmn:extensionElements/spiffworkflow:calledDecisionId", NS)
    decision = (ref.text or "").strip() if ref is not None else ""
    if not decision:
        r.add(file, el, "business rule task has no decision; add <spiffworkflow:calledDecisionId> with the "
                        "id of a decision in a .dmn file")
    elif decision not in r.decisions:
        here = ", ".join(sorted(r.decisions)) or "none"
        r.add(file, el, f"calls decision '{decision}', which no .dmn file of this deployment defines; "
                        f"fix spiffworkflow:calledDecisionId or add the DMN file (decisions here: {here})")


def _gateway(r: Report, file: str, gw) -> None:
    gid, default = gw.get("id"), gw.get("default")
    outgoing = [f for f in gw.getparent().iterchildren(q("sequenceFlow")) if f.get("sourceRef") == gid]
    if default and default not in {f.get("id") for f in outgoing}:
        r.add(file, gw, f"default flow '{default}' does not leave this gateway; name one of its outgoing flows")
    for flow in outgoing if len(outgoing) > 1 else ():
        cond = flow.find(q("conditionExpression"))
        if flow.get("id") != default and (cond is None or not (cond.text or "").strip()):
            r.add(file, flow, f"flow leaves gateway '{gid}' without a condition; add a condition or make it "
                              "the default flow")
