"""A process designer's journey: open a procedure in the modeler, make a mistake, see it on the element, fix it,
deploy a new version, compare, and migrate a running case to it; plus a round trip through bpmn-js that must keep
every spiffworkflow: extension intact."""
from __future__ import annotations

import re

from lxml import etree
from playwright.sync_api import expect

from journey import login, screenshot

SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
PROCEDURE = "enforcement_case"
# demo cases (tools/demo_cases/10_filing_and_start.yaml): 执3 waits for the enforcement officer and can move to the
# new version; 执1 waits at the filing check, whose form the journey narrows, so it cannot
MOVABLE_CASE = "（2026）川0104执3号"
BLOCKED_CASE = "（2026）川0104执1号"


def open_newest(page, process_id: str) -> None:
    page.goto("/design/")
    page.locator(f"[data-testid^=open-{process_id}-]").first.click()
    page.wait_for_selector("[data-testid=canvas] .djs-element")


def set_operator(page, value: str) -> None:
    page.fill("[data-testid=operator]", value)
    page.press("[data-testid=operator]", "Tab")          # applied on change, through the modeler's commands


def test_designer_edits_validates_fixes_deploys_and_migrates(page, live_server):
    login(page, "sheji")
    page.goto("/design/")
    assert page.get_by_test_id(f"version-{PROCEDURE}-1").is_visible()
    screenshot(page, "designer-procedures")

    open_newest(page, PROCEDURE)
    # selected through the modeler: the procedure is larger than the canvas, so the task may lie outside the view
    page.evaluate("""() => { const m = window.zhixingModeler;
        m.get('selection').select(m.get('elementRegistry').get('notify_owner_overdue')); }""")
    set_operator(page, "notify.sendd")                   # a service task operator that does not exist
    page.get_by_test_id("validate").click()
    page.get_by_test_id("problem-notify_owner_overdue").wait_for()
    assert page.locator(".djs-element.zx-error[data-element-id=notify_owner_overdue]").count() == 1
    assert "notify_owner_overdue: operator 'notify.sendd' is not registered" in page.get_by_test_id("problems").inner_text()
    screenshot(page, "designer-modeler-validation-error")

    set_operator(page, "notify.send")                    # the task is still selected: fix it
    # and shorten the owner-assignment warning from 7 to 5 days, through the modeler's API
    page.evaluate("""() => {
        const modeler = window.zhixingModeler, element = modeler.get('elementRegistry').get('owner_overdue');
        const timer = element.businessObject.eventDefinitions[0];
        modeler.get('modeling').updateModdleProperties(element, timer.timeDuration, {body: '"P5D"'});
    }""")
    page.get_by_test_id("validate").click()             # validating saves the draft first
    page.get_by_test_id("status").filter(has_text="校验通过").wait_for()
    assert page.locator(".djs-element.zx-error").count() == 0 and page.get_by_test_id("problems").is_hidden()

    # the filing check's form no longer offers "enterprise" as the debtor's type
    draft_url = page.url.split("?")[0]
    page.goto(f"{draft_url}?file=case_filing.schema.json")
    schema = page.locator("#content").input_value()
    page.fill("#content", schema.replace('"type": "number"', '"type": "money"'))
    page.get_by_test_id("save").click()
    assert "not a valid JSON Schema" in page.get_by_test_id("field-error").inner_text()
    page.fill("#content", schema.replace(', "enterprise"', ""))
    page.get_by_test_id("save").click()
    assert "已保存" in page.locator(".flash").inner_text()

    page.goto(draft_url)
    page.wait_for_selector("[data-testid=canvas] .djs-element")
    page.get_by_test_id("deploy").click()
    page.get_by_test_id("migrate-link").wait_for()
    assert f"{PROCEDURE}@2" in page.get_by_test_id("status").inner_text()

    page.get_by_test_id("migrate-link").click()
    preview = page.get_by_test_id("migration-preview")
    expect(preview.get_by_text("正在检查…")).to_have_count(0)        # each row checked (migrated in memory)
    movable = preview.locator("tr", has_text=MOVABLE_CASE)
    assert "可以迁移" in movable.inner_text()
    blocked = preview.locator("tr", has_text=BLOCKED_CASE)         # waits at the filing check, whose form narrowed
    assert "不能迁移" in blocked.inner_text() and "debtor_type allows fewer values" in blocked.inner_text()
    assert blocked.locator("input[type=checkbox]").is_disabled()
    screenshot(page, "designer-migration-preview")

    for _ in range(preview.locator("input[type=checkbox]:checked").count()):
        preview.locator("input[type=checkbox]:checked").first.uncheck()
    movable.locator("input[type=checkbox]").check()
    page.get_by_test_id("migrate").click()
    assert f"{MOVABLE_CASE}: 已迁移到版本 2" in page.get_by_test_id("migration-results").inner_text()
    [instance] = [i for i in live_server.engine.instances_of_case(MOVABLE_CASE) if i.process_id == PROCEDURE]
    assert instance.version == 2
    assert "instance_migrated" in [e.action for e in live_server.engine.events(instance.id)]

    page.goto(f"/design/compare?process={PROCEDURE}&old=1&new=2")
    row = page.locator("[data-testid=diff] tr[data-element-id=owner_overdue]")
    assert row.get_attribute("data-kind") == "changed" and '"P5D"' in row.inner_text()
    page.locator("[data-testid=new-diagram][data-ready=true]").wait_for()
    assert page.locator("[data-testid=new-diagram] .djs-element.zx-changed[data-element-id=owner_overdue]").count() == 1
    screenshot(page, "designer-compare")


def spiff_extensions(xml: bytes) -> list:
    """Every spiffworkflow: element with its attributes and text, and the element it belongs to."""
    root = etree.fromstring(xml)
    out = []
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith(SPIFF):
            owner = next(a.get("id") for a in el.iterancestors() if a.get("id") and not a.tag.startswith(SPIFF))
            out.append((owner, el.tag, sorted(el.attrib.items()), (el.text or "").strip()))
    return sorted(out)


def test_bpmn_js_keeps_every_spiffworkflow_extension(page, live_server):
    login(page, "sheji")
    open_newest(page, "objection_review")
    draft_url = page.url.split("?")[0]
    names = [n for n in page.get_by_test_id("files").locator("li a").all_inner_texts() if n.endswith(".bpmn")]
    assert len(names) >= 3
    for name in names:
        original = page.request.get(f"{draft_url}/file?name={name}").body()
        page.goto(f"{draft_url}?file={name}")
        page.wait_for_selector("[data-testid=canvas] .djs-element")
        page.get_by_test_id("save").click()                 # bpmn-js writes the whole file again
        page.get_by_test_id("status").filter(has_text="已保存").wait_for()
        saved = page.request.get(f"{draft_url}/file?name={name}").body()
        assert re.search(rb"<bpmn:definitions[^>]*xmlns:spiffworkflow=", saved), name
        assert spiff_extensions(saved) == spiff_extensions(original), name


DECISION_PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_choose" targetNamespace="t">
  <bpmn:process id="choose_measure" name="Choose a measure" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:businessRuleTask id="decide">
      <bpmn:extensionElements><spiffworkflow:calledDecisionId>measure</spiffworkflow:calledDecisionId></bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def decision_rules(xml: bytes) -> list:
    root = etree.fromstring(xml)
    return [[" ".join(t.split()) for t in rule.xpath(".//*[local-name()='text']/text()")]
            for rule in root.xpath("//*[local-name()='rule']")]


def test_the_dmn_editor_opens_and_saves_a_decision_table(page, live_server):
    from testpaths import TESTS
    dmn = (TESTS / "bpmn" / "good" / "measure.dmn").read_bytes()
    live_server.engine.deploy({"choose_measure.bpmn": DECISION_PROCESS, "measure.dmn": dmn}, actor="test")
    login(page, "sheji")
    open_newest(page, "choose_measure")
    draft_url = page.url.split("?")[0]
    page.goto(f"{draft_url}?file=measure.dmn")
    page.locator("[data-testid=canvas] .tjs-table").wait_for()
    assert "Enforcement measure" in page.get_by_test_id("canvas").inner_text()
    page.get_by_test_id("save").click()
    page.get_by_test_id("status").filter(has_text="已保存").wait_for()
    saved = page.request.get(f"{draft_url}/file?name=measure.dmn").body()
    assert decision_rules(saved) == decision_rules(dmn) and len(decision_rules(dmn)) == 3
    page.get_by_test_id("validate").click()
    page.get_by_test_id("status").filter(has_text="校验通过").wait_for()


def test_the_engine_properties_panel_edits_what_the_engine_reads(page, live_server):
    login(page, "sheji")
    open_newest(page, "objection_review")
    draft_url = page.url.split("?")[0]
    page.goto(f"{draft_url}?file=enforcement_case.bpmn")
    page.wait_for_selector("[data-testid=canvas] .djs-element")

    def select(element_id):
        page.evaluate("""(id) => { const m = window.zhixingModeler;
            m.get('selection').select(m.get('elementRegistry').get(id)); }""", element_id)

    select("check_filing")
    page.fill("[data-testid=engine-props] input[data-property=dueIn]", "P5D")
    page.press("[data-testid=engine-props] input[data-property=dueIn]", "Tab")
    select("flow_accept")
    page.fill("[data-testid=engine-props] textarea[name=condition]", "conditions_met and amount > 0")
    page.press("[data-testid=engine-props] textarea[name=condition]", "Tab")
    page.get_by_test_id("save").click()
    page.get_by_test_id("status").filter(has_text="已保存").wait_for()
    saved = etree.fromstring(page.request.get(f"{draft_url}/file?name=enforcement_case.bpmn").body())
    [due] = saved.xpath("//*[@id='check_filing']//*[local-name()='property'][@name='dueIn']/@value")
    [condition] = saved.xpath("//*[@id='flow_accept']/*[local-name()='conditionExpression']/text()")
    assert (due, condition) == ("P5D", "conditions_met and amount > 0")
    form = saved.xpath("//*[@id='check_filing']//*[local-name()='property'][@name='formJsonSchemaFilename']/@value")
    assert form == ["case_filing.schema.json"]           # the other properties are kept
