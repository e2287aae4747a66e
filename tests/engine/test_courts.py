"""Courts, settings and case numbers (案号)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine import InvalidInput
from engine.court.courts import format_case_number, parse_case_number

from testpaths import ENGINE_BPMN

RULE_FORM = (ENGINE_BPMN / "rule.schema.json").read_bytes()
OBJECTION_WITH_NUMBERS = (ENGINE_BPMN / "objection.bpmn").read_bytes().replace(
    b'<bpmn:process id="objection" name="Engine test objection" isExecutable="true">',
    b'<bpmn:process id="objection" name="Engine test objection" isExecutable="true"><bpmn:extensionElements>'
    b'<spiffworkflow:properties><spiffworkflow:property name="caseType" value="\xe6\x89\xa7\xe5\xbc\x82"/>'
    b'</spiffworkflow:properties></bpmn:extensionElements>')


def test_case_number_format_round_trips():
    assert format_case_number(2026, "川0104", "执", 123) == "（2026）川0104执123号"
    assert parse_case_number("（2026）川0104执恢7号") == (2026, "川0104", "执恢", 7)
    assert parse_case_number("（2026）川01执复12号") == (2026, "川01", "执复", 12)
    with pytest.raises(InvalidInput):
        parse_case_number("(2026)川0104执1号")


def test_courts_have_a_hierarchy_and_settings(engine):
    engine.add_court("川", "四川省高级人民法院", "high")
    engine.add_court("川01", "成都市中级人民法院", "intermediate", "川")
    basic = engine.add_court("川0104", "成都市锦江区人民法院", "basic", "川01", {"fast_track_threshold": 50000,
                                                                       "response_hours": {"debtor_located": 1}})
    assert (basic.parent_code, basic.settings["fast_track_threshold"]) == ("川01", 50000)
    assert basic.settings["response_hours"] == {"assets_proven_in_district": 24, "debtor_located": 1,
                                                "new_assets_in_suspended_case": 0, "urgent": 0}
    with pytest.raises(InvalidInput, match="unknown setting"):
        engine.add_court("川0105", "青羊区", "basic", "川01", {"fast_trak": 1})
    with pytest.raises(InvalidInput, match="not registered"):
        engine.add_court("川0199", "无", "basic", "川99")


def test_message_started_review_gets_its_own_number_per_court_and_year(engine, clock):
    engine.deploy({"objection.bpmn": OBJECTION_WITH_NUMBERS, "rule.schema.json": RULE_FORM})
    engine.deploy([ENGINE_BPMN / "case_flow.bpmn"] + [ENGINE_BPMN / f"{n}.schema.json" for n in ("register", "decide", "late_review", "review")])
    engine.add_court("川0104", "成都市锦江区人民法院", "basic", settings={"fast_track_threshold": 80000})
    for n in (5, 6, 7):     # an objection is filed against an existing case (the relation is checked)
        engine.start("case_flow", f"（2026）川0104执{n}号", "川0104")
    first = engine.correlate("objection_filed", "（2026）川0104执5号", {"main_case": "x"}, court="川0104")
    second = engine.correlate("objection_filed", "（2026）川0104执6号", {"main_case": "y"}, court="川0104")
    clock.set(datetime(2027, 1, 4, 2, 0, tzinfo=UTC))
    third = engine.correlate("objection_filed", "（2026）川0104执7号", {"main_case": "z"}, court="川0104")
    numbers = [engine.instance(r.instance_ids[0]).case_no for r in (first, second, third)]
    assert numbers == ["（2026）川0104执异1号", "（2026）川0104执异2号", "（2027）川0104执异1号"]
    data = engine.variables(first.instance_ids[0])
    assert data["related_case_no"] == "（2026）川0104执5号"
    assert data["court_settings"]["fast_track_threshold"] == 80000


def test_a_process_without_case_type_needs_a_number(deployed):
    with pytest.raises(InvalidInput, match="declares no caseType"):
        deployed.start("case_flow", None, "J0104")


def test_validation_names_a_bad_case_type():
    from engine.definitions.validation import validate_files
    bad = OBJECTION_WITH_NUMBERS.replace("执异".encode(), "执行异议".encode())
    [problem] = validate_files({"objection.bpmn": bad, "rule.schema.json": RULE_FORM})
    assert str(problem).startswith("objection.bpmn:7: objection: caseType '执行异议' is not a case type code")


def test_review_panel_excludes_whoever_worked_on_the_related_case(engine):
    """审执分离: an officer who did implementation tasks on the enforcement case may not rule on the objection."""
    engine.deploy([ENGINE_BPMN])
    objection = OBJECTION_WITH_NUMBERS.replace(
        b'<spiffworkflow:property name="formJsonSchemaFilename" value="rule.schema.json"/>',
        b'<spiffworkflow:property name="formJsonSchemaFilename" value="rule.schema.json"/>'
        b'<spiffworkflow:property name="excludeCompletersOf" value="related:*"/>')
    engine.deploy({"objection.bpmn": objection, **{p.name: p.read_bytes() for p in ENGINE_BPMN.glob("case_*")},
                   "register.schema.json": (ENGINE_BPMN / "register.schema.json").read_bytes(),
                   **{p.name: p.read_bytes() for p in ENGINE_BPMN.glob("*.schema.json")}})
    engine.add_user("clerk_judge", "兼任 钱", [("川0104", "filing_clerk"), ("川0104", "review_judge")])
    engine.add_user("judge2", "审查 孙", [("川0104", "review_judge")])
    main = engine.start("case_flow", "（2026）川0104执9号", "川0104")
    [register] = engine.tasks(instance_id=main.id)
    engine.complete_task(register.task_id, "clerk_judge", {"debtor": "乙公司", "amount": 10})
    review = engine.correlate("objection_filed", "（2026）川0104执9号", {"main_case": "x"}, court="川0104")
    [rule] = engine.tasks(instance_id=review.instance_ids[0])
    with pytest.raises(Exception, match="separation of duties"):
        engine.complete_task(rule.task_id, "clerk_judge", {})
    engine.complete_task(rule.task_id, "judge2", {"ruling": "rejected"})
