"""Deploy-time validation: every bad diagram in ``tests/bpmn/bad`` gives exactly its expected lines.

A corpus case is ``<stem>.bpmn`` plus the files beside it named ``<stem>.*`` (forms, DMN). Lines that quote
another module's wording (the expression checker, the period parser) are built by calling that module, so the
test pins where and how a problem is reported, not someone else's phrasing.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.court.roles import ROLES
from engine.definitions.validation import Problem, validate_files, validate_paths
from engine.kernel import expressions
from engine.legaltime.periods import parse_period
from handlers.registry import HandlerSpec, Registry

BPMN_DIR = Path(__file__).parents[1] / "bpmn"
BAD, GOOD = BPMN_DIR / "bad", BPMN_DIR / "good"


def _registry() -> Registry:
    registry = Registry()
    registry.register(HandlerSpec("test.asset_search", lambda **_: {}, ("court", "case_no"), ("limit",)))
    registry.register(HandlerSpec("test.freeze", lambda **_: {}, ("account",)))
    return registry


def X(text: str, mode: str = "eval") -> str:
    """The expression checker's own words for ``text``, as validation joins them."""
    problems = expressions.check(text, mode)
    assert problems, f"{text!r} was expected to be rejected"
    return "; ".join(problems)


def P(text: str) -> str:
    """The period parser's own words for ``text``."""
    with pytest.raises(ValueError) as info:
        parse_period(text)
    return str(info.value)


ROLE_LIST = ", ".join(f"{code} ({zh})" for code, (zh, _en) in ROLES.items())
NOT_REACHABLE = "not reachable from a start event; connect it with a sequence flow or remove it"
NO_CONDITION = "without a condition; add a condition or make it the default flow"
HOSTILE = "().__class__.__base__.__subclasses__()"
PAYLOAD, OPEN, SEIZURE_PLUS, UNTERMINATED = "{'case_no': case_no, 'x': y.__dict__}", 'open("x")', '"seizure" +', '"P10D'

CASES = {
    "malformed": [
        "malformed.bpmn:7: -: malformed XML: Opening and ending tag mismatch: endEvent line 5 and process; "
        "fix the XML or export the diagram again"],
    "schema": [
        "schema.bpmn:5: typo: BPMN schema: Element 'bpmn:userTsk': This element is not expected. Expected is one of "
        "(bpmn:artifact, bpmn:association, bpmn:group, bpmn:textAnnotation, bpmn:resourceRole, bpmn:performer, ...); "
        "fix the XML to match the schema"],
    "dangling_flow": [
        "dangling_flow.bpmn:14: Flow_work_ghost: targetRef 'ghost' names no element; "
        "point it at a flow node of this process",
        "dangling_flow.bpmn:15: Flow_phantom_end: sourceRef 'phantom' names no element; "
        "point it at a flow node of this process",
        "dangling_flow.bpmn:17: Flow_sub_sub_end: targetRef 'sub_end' is in another process or subprocess; "
        "a sequence flow connects nodes of the same level: use a message, or move one of them"],
    "unreachable": [
        f"unreachable.bpmn:12: orphan: {NOT_REACHABLE}",
        f"unreachable.bpmn:13: after_orphan: {NOT_REACHABLE}",
        f"unreachable.bpmn:14: orphan_timeout: {NOT_REACHABLE}",
        f"unreachable.bpmn:27: sub_orphan: {NOT_REACHABLE}",
        "unreachable.bpmn:38: no_start: subProcess has no start event; add one where the flow begins"],
    "service": [
        "service.bpmn:7: typo: operator 'test.asset_serch' is not registered; "
        "known operators: test.asset_search, test.freeze",
        "service.bpmn:17: params: operator 'test.asset_search' has no parameter(s) bank (allowed: court, case_no, limit)",
        "service.bpmn:17: params: operator 'test.asset_search' needs parameter(s) case_no",
        f"service.bpmn:29: hostile: parameter 'court': {X(HOSTILE)}",
        f"service.bpmn:30: hostile: parameter 'case_no': {X('case_no +')}",
        "service.bpmn:40: retry: parameter 'case_no' has no value; write an expression "
        "(a literal text needs quotes: 'text')",
        "service.bpmn:42: retry: BPMN schema: Element 'spiffworkflow:retry', attribute 'backoff_base': 'x2' is not "
        "a valid value of the atomic type 'xs:integer'; fix the XML to match the schema",
        'service.bpmn:42: retry: retry retries="-1" must not be negative; use 0 or more',
        'service.bpmn:46: bare: service task has no operator; add <spiffworkflow:serviceTaskOperator id="..."> '
        "naming a registered handler"],
    "lanes": [
        f"lanes.bpmn:16: judge_review: user task is in lane 'Judge', which names no role; "
        f"name the lane after a role: {ROLE_LIST}",
        "lanes.bpmn:17: outside: user task is not in a lane; put it in the lane of the role that does it",
        "lanes.bpmn:18: deliver: manual task is not in a lane; put it in the lane of the role that does it"],
    "subprocess_lane": [
        "subprocess_lane.bpmn:19: approve: user task is in lane 'president' but inside subprocess 'stage', which is in "
        "lane 'implementation_officer': SpiffWorkflow gives every task of a subprocess the subprocess's lane; leave "
        "the subprocess out of the lanes, or put the task in its lane"],
    "no_lanes": [
        "no_lanes.bpmn:5: review: user task is not in a lane; put it in the lane of the role that does it"],
    "forms": [
        "forms.bad.schema.json:0: -: not a valid JSON Schema (draft 2020-12): 'money' is not valid under any of "
        "the given schemas at properties/debt/type; fix the form schema",
        "forms.bpmn:17: missing_form: formJsonSchemaFilename 'forms.nowhere.schema.json' is not in the deployment; "
        "put the file beside the diagram and deploy them together",
        "forms.bpmn:18: missing_form: formUiSchemaFilename 'forms.nowhere.ui.json' is not in the deployment; "
        "put the file beside the diagram and deploy them together",
        "forms.broken.schema.json:5: -: not valid JSON: Expecting property name enclosed in double quotes "
        "(column 3); fix the file"],
    "properties": [
        f"properties.bpmn:16: first: dueIn: {P('ten days')}",
        "properties.bpmn:34: second: excludeCompletersOf names 'lookup', which is a serviceTask; "
        "list the ids of user tasks, separated by commas (related:ID or related:* for tasks of the related case)",
        "properties.bpmn:34: second: excludeCompletersOf names 'nobody', which is no element of this deployment; "
        "list the ids of user tasks, separated by commas (related:ID or related:* for tasks of the related case)"],
    "call": [
        "call.bpmn:6: missing: calls process 'notfy_debtor', which is neither in this deployment nor deployed; "
        "fix calledElement or deploy that process first (processes here: call)",
        "call.bpmn:7: nothing: call activity has no calledElement; set it to the id of the process to call"],
    "timers": [
        'timers.bpmn:7: unquoted: timeDuration P14D is not quoted; timer text is an expression: write "P14D"',
        'timers.bpmn:12: unquoted_cn: timeDuration 10日 is not quoted; timer text is an expression: write "10日"',
        f"timers.bpmn:17: bad_period: timeDuration: {P('P1X')}",
        'timers.bpmn:32: bad_date: timeDate "P6M" is not an ISO 8601 date-time; '
        'write e.g. "2030-05-01T09:00:00+08:00" or deadline("P6M")',
        "timers.bpmn:37: deadline_in_duration: deadline() gives a date-time: use it in a timeDate; "
        'a timeDuration takes a quoted period such as "P10D"',
        f"timers.bpmn:42: bad_deadline: deadline(): {P('6 months')}",
        'timers.bpmn:47: var_deadline: deadline() needs a quoted period written out, such as deadline("P6M")',
        "timers.bpmn:57: bad_working: working_days() needs a whole number of days written out, "
        "such as working_days(3)",
        "timers.bpmn:62: other_call: timeDate calls now(); a timer may call only deadline(period[, start]) "
        "or working_days(n[, start])",
        'timers.bpmn:67: bad_cycle: timeCycle "P6M" is not an ISO 8601 repeating interval; write e.g. "R5/P6M"',
        f"timers.bpmn:77: syntax: timeDuration: {X(UNTERMINATED)}",
        'timers.bpmn:82: empty: timeDate is empty; write an expression such as deadline("P6M")',
        'timers.bpmn:87: naive: timeDate "2030-05-01" has no time zone; add the court\'s, '
        'e.g. "2030-05-01T09:00:00+08:00"'],
    "expressions": [
        f"expressions.bpmn:7: hostile: script: {X('x = ' + HOSTILE, 'exec')}",
        f"expressions.bpmn:10: broken: script: {X('fee = round(amount *', 'exec')}",
        f"expressions.bpmn:14: hooks: preScript: {X('import os', 'exec')}",
        f"expressions.bpmn:21: order: message payload: {X(PAYLOAD)}",
        "expressions.bpmn:26: stray: messageRef 'msg_nowhere' names no bpmn:message in this file; "
        "declare <bpmn:message id=... name=...> or fix the reference",
        f"expressions.bpmn:38: Flow_gw_big_end: condition: {X('debt >= = 10000')}",
        "expressions.measure.dmn:10: r1_in: DMN input entry 'in (\"company\", \"person\")' does not work in "
        "SpiffWorkflow; write '? in (\"company\", \"person\")'",
        f"expressions.measure.dmn:11: r1_out: DMN output entry: {X(SEIZURE_PLUS)}",
        f"expressions.measure.dmn:14: r2_in: DMN input entry: {X('dmn_input >=')}",
        f"expressions.measure.dmn:15: r2_out: DMN output entry: {X(OPEN)}"],
    "gateways": [
        "gateways.bpmn:5: xor: default flow 'Flow_start_xor' does not leave this gateway; "
        "name one of its outgoing flows",
        f"gateways.bpmn:15: Flow_xor_b: flow leaves gateway 'xor' {NO_CONDITION}",
        f"gateways.bpmn:21: Flow_or_end: flow leaves gateway 'or' {NO_CONDITION}"],
    "decision": [
        "decision.bpmn:5: pick: calls decision 'measure_v2', which no .dmn file of this deployment defines; "
        "fix spiffworkflow:calledDecisionId or add the DMN file (decisions here: measure)",
        "decision.bpmn:10: no_ref: business rule task has no decision; add <spiffworkflow:calledDecisionId> "
        "with the id of a decision in a .dmn file"],
    "no_process": [
        'no_process.bpmn:2: -: defines no executable process; add a bpmn:process with isExecutable="true"'],
    "spiff": [
        "spiff.bpmn:5: each_debtor: SpiffWorkflow cannot parse this: A multiinstance task must specify a "
        "cardinality or a loop input data reference; fix the element (see docs/diagrams.md)"],
}


def case_files(stem: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in BAD.iterdir() if p.name == f"{stem}.bpmn" or p.name.startswith(f"{stem}.")}


def lines(files, **kw) -> list[str]:
    return [str(p) for p in validate_files(files, registry=kw.pop("registry", _registry()), **kw)]


@pytest.mark.parametrize("stem", sorted(CASES))
def test_bad_diagram(stem):
    assert lines(case_files(stem), known_processes=("already_deployed",)) == CASES[stem]


def test_every_bad_diagram_has_a_case():
    assert sorted(p.stem for p in BAD.glob("*.bpmn")) == sorted(CASES)


def test_good_set_is_valid():
    files = {p.name: p.read_bytes() for p in GOOD.iterdir()}
    assert lines(files) == []


def test_call_activity_target_must_be_known():
    assert "calls process 'already_deployed'" in "\n".join(lines(case_files("call")))


def test_problem_format_and_order():
    a, b = Problem("a.bpmn", 12, "task_1", "boom"), Problem("a.bpmn", 3, "-", "zap")
    assert str(a) == "a.bpmn:12: task_1: boom"
    assert sorted([a, b]) == [b, a]


def test_validate_paths_reads_a_directory_recursively():
    files, problems = validate_paths([GOOD], registry=_registry())
    assert problems == []
    assert sorted(files) == ["enforcement_case.bpmn", "measure.dmn", "notify_debtor.bpmn", "register.schema.json",
                             "register.ui.json"]


def test_validate_paths_reports_paths_duplicates_and_missing_files(tmp_path):
    sub, other, hidden = tmp_path / "sub", tmp_path / "other", tmp_path / ".git"
    for folder in (sub, other, hidden):
        folder.mkdir()
    for name in ("no_lanes.bpmn", "forms.bpmn", "forms.bad.schema.json", "forms.broken.schema.json"):
        shutil.copy(BAD / name, sub / name)
    shutil.copy(BAD / "no_lanes.bpmn", other / "no_lanes.bpmn")
    shutil.copy(BAD / "malformed.bpmn", hidden / "malformed.bpmn")
    (sub / "notes.txt").write_text("ignored")
    files, problems = validate_paths([tmp_path, tmp_path / "missing.bpmn"], registry=_registry())
    assert sorted(files) == ["forms.bad.schema.json", "forms.bpmn", "forms.broken.schema.json", "no_lanes.bpmn"]
    got = [str(p) for p in problems]
    assert f"{sub}/no_lanes.bpmn:0: -: another file is also named no_lanes.bpmn ({other}/no_lanes.bpmn); " \
           "file names must be unique in a deployment" in got
    assert f"{tmp_path}/missing.bpmn:0: -: cannot read the file: No such file or directory" in got
    assert f"{other}/no_lanes.bpmn:5: review: user task is not in a lane; put it in the lane of the role that " \
           "does it" in got
    assert f"{sub}/forms.broken.schema.json:5: -: not valid JSON: Expecting property name enclosed in double " \
           "quotes (column 3); fix the file" in got
    assert len(got) == 7


def _bpmn(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
            'targetNamespace="http://zhixing.example">\n' + body + '\n</bpmn:definitions>\n').encode()


def test_hostile_script_is_reported_with_its_line():
    doc = _bpmn('<bpmn:process id="p" isExecutable="true">\n'
                '<bpmn:startEvent id="s"/>\n'
                '<bpmn:scriptTask id="escape">\n'
                f'<bpmn:script>{HOSTILE}</bpmn:script>\n'
                '</bpmn:scriptTask>\n'
                '<bpmn:endEvent id="e"/>\n'
                '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="escape"/>\n'
                '<bpmn:sequenceFlow id="f2" sourceRef="escape" targetRef="e"/>\n'
                '</bpmn:process>')
    assert lines({"escape.bpmn": doc}) == [f"escape.bpmn:6: escape: script: {X(HOSTILE, 'exec')}"]


GARBAGE = {
    "empty file": {"empty.bpmn": b""},
    "binary junk": {"junk.bpmn": bytes(range(256)) * 4},
    "json that is not json": {"form.json": b"this is { not json"},
    "json that is not utf-8": {"form.json": b"\xff\xfe\xfa{"},
    "bpmn without a process": {"none.bpmn": _bpmn("")},
    "process without anything": {"bare.bpmn": _bpmn('<bpmn:process id="p"/>')},
    "not bpmn at all": {"html.bpmn": b"<html><body>hello</body></html>"},
    "empty dmn": {"x.dmn": b""},
    "dmn without a decision": {"x.dmn": b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
                                        b'id="d" name="d" namespace="x"/>'},
    "bpmn given as dmn": {"x.dmn": _bpmn("")},
    "entity bomb": {"bomb.bpmn": b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaaaaaaaa">'
                                 b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">'
                                 b']><b>&c;</b>'},
    "deep nesting": {"deep.bpmn": b"<a>" * 5000 + b"</a>" * 5000},
    "unknown file type": {"notes.txt": b"hello"},
    "flows without refs": {"f.bpmn": _bpmn('<bpmn:process id="p"><bpmn:startEvent id="s"/>'
                                           '<bpmn:sequenceFlow id="f"/><bpmn:exclusiveGateway id="g" default="x"/>'
                                           '<bpmn:intermediateCatchEvent id="t"><bpmn:timerEventDefinition>'
                                           '<bpmn:timeCycle>"R/x/y"</bpmn:timeCycle></bpmn:timerEventDefinition>'
                                           '</bpmn:intermediateCatchEvent></bpmn:process>')},
}


@pytest.mark.parametrize("files", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_gives_problems_not_exceptions(files):
    problems = validate_files(files, registry=_registry())
    assert problems and all(isinstance(p, Problem) for p in problems)
    assert all(p.file in files for p in problems)
    assert not any("validator failed" in p.message for p in problems)


def test_empty_and_binary_files_say_so():
    assert lines({"empty.bpmn": b"", "junk.dmn": bytes(range(256))}) == [
        "empty.bpmn:1: -: malformed XML: Document is empty; fix the XML or export the diagram again",
        "junk.dmn:0: -: binary data, not XML; export the diagram as XML"]


def test_dmn_schema_errors_have_lines():
    dmn = (GOOD / "measure.dmn").read_bytes().replace(b'<rule id="r1">', b'<rule id="r1"><bogus/>')
    assert lines({"m.dmn": dmn}) == [
        "m.dmn:9: r1: DMN schema: Element 'dmn:bogus': This element is not expected. Expected is one of "
        "(dmn:description, dmn:extensionElements, dmn:inputEntry, dmn:outputEntry); fix the XML to match the schema"]
