"""A process designer's journey: open a procedure in the modeler, make a mistake, see it on the element, fix it,
deploy a new version, compare, and migrate a running case to it; plus a round trip through bpmn-js that must keep
every spiffworkflow: extension intact."""
from __future__ import annotations

import re

from lxml import etree

from journey import login, screenshot

SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
PROCEDURE = "enforcement_start"
# the demo case waiting for the enforcement officer (督促履行): it can move to the new version
MOVABLE_CASE = "（2026）川0104执3号"


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
    page.click("[data-element-id=send_notice]")
    set_operator(page, "notify.sendd")                   # a service task operator that does not exist
    page.get_by_test_id("validate").click()
    page.get_by_test_id("problem-send_notice").wait_for()
    assert page.locator(".djs-element.zx-error[data-element-id=send_notice]").count() == 1
    assert "send_notice: operator 'notify.sendd' is not registered" in page.get_by_test_id("problems").inner_text()
    screenshot(page, "designer-modeler-validation-error")

    set_operator(page, "notify.send")                    # the task is still selected: fix it
    # and shorten the owner-assignment warning from 7 to 5 days, through the modeler's API
    page.evaluate("""() => {
        const modeler = window.zhixingModeler, element = modeler.get('elementRegistry').get('owner_overdue');
        const timer = element.businessObject.eventDefinitions[0];
        modeler.get('modeling').updateModdleProperties(element, timer.timeDuration, {body: '"P5D"'});
    }""")
    page.get_by_test_id("validate").click()
    page.get_by_test_id("status").filter(has_text="校验通过").wait_for()
    assert page.locator(".djs-element.zx-error").count() == 0 and page.get_by_test_id("problems").is_hidden()

    page.get_by_test_id("deploy").click()
    page.get_by_test_id("migrate-link").wait_for()
    assert f"{PROCEDURE}@2" in page.get_by_test_id("status").inner_text()

    page.get_by_test_id("migrate-link").click()
    preview = page.get_by_test_id("migration-preview")
    movable = preview.locator("tr", has_text=MOVABLE_CASE)
    assert "可以迁移" in movable.inner_text()
    waiting_on_timer = preview.locator("tr", has_text="owner_overdue")  # cases whose warning timer is running
    for i in range(waiting_on_timer.count()):
        assert "不能迁移" in waiting_on_timer.nth(i).inner_text()
        assert waiting_on_timer.nth(i).locator("input[type=checkbox]").is_disabled()
    screenshot(page, "designer-migration-preview")

    for i in range(preview.locator("input[type=checkbox]:checked").count()):
        preview.locator("input[type=checkbox]:checked").first.uncheck()
    movable.locator("input[type=checkbox]").check()
    page.get_by_test_id("migrate").click()
    assert f"{MOVABLE_CASE}: 已迁移到版本 2" in page.get_by_test_id("migration-results").inner_text()
    [instance] = live_server.engine.instances_of_case(MOVABLE_CASE)
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
