"""The officer's journey (W1): chengban opens 我的待办, claims a task, opens it, saves a draft, submits the form
with a field error, fixes it and completes the task; the task leaves the list and the case page shows the step in
its execution log, with the document the next step generated.

The task is 补充执行措施 of a 终本 case (bpmn/no_asset_exit.bpmn) started here through the engine: the demo cases
of ``tools/demo.py`` give chengban no task with a form.
"""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from engine.legaltime.periods import COURT_TZ

from journey import login, screenshot

CASE = "（2026）川0104执900号"


def no_asset_case(engine) -> str:
    """陈大明 (the sandbox's debtor without assets) is missing and nobody has searched for him yet, so the engine
    refuses 终本 and gives the implementation officer 补充执行措施; returns that task's id."""
    today = engine.clock.now().astimezone(COURT_TZ).date()
    served = f"{today - timedelta(days=380)}T10:00:00+08:00"
    notice = f"{CASE}/enforcement_notice-1.docx"
    records = [      # what its enforcement case recorded (the 终本 conditions read the case file, not the data)
        {"kind": "document", "body": {"path": notice, "doc_type": "enforcement_notice", "sha256": "1" * 64,
                                      "generated_at": served}},
        {"kind": "document", "body": {"path": f"{CASE}/asset_report_order-1.docx", "doc_type": "asset_report_order",
                                      "sha256": "2" * 64, "generated_at": served}},
        {"kind": "service", "body": {"delivery_id": "DL-1", "document": notice, "recipient": "陈大明", "role": "debtor",
                                     "method": "publication", "sent_at": served, "served_at": served,
                                     "delivered": True}},
        {"kind": "whereabouts", "body": {"debtor_missing": True, "searched": False}}]
    engine.start("no_asset_exit", CASE, "川0104", {
        "debtor_id": "510107198511203317", "debtor_name": "陈大明", "applicant_name": "四川锦城小额贷款有限公司",
        "basis": "（2025）川0104民初456号民事判决书", "amount": 50000, "recovered": 0,
        "filed_on": (today - timedelta(days=383)).isoformat(), "blacklist_ground": 4}, actor="lian",
        records=records)
    return open_task(engine, "supplement")


def open_task(engine, bpmn_id: str) -> str:
    engine.run_until_idle()         # the service tasks before it (the scheduler would run them within a second)
    [task] = [t for t in engine.tasks(case_no=CASE) if t.bpmn_id == bpmn_id]
    return task.task_id


def test_officer_claims_fixes_a_field_error_and_completes_a_task(page, live_server):
    engine = live_server.engine
    task_id = no_asset_case(engine)
    login(page, "chengban")
    page.goto("/")
    row = page.locator(f'[data-testid=task-row][data-task-id="{task_id}"]')
    expect(row).to_contain_text("补充执行措施")
    expect(row).to_contain_text(CASE)
    expect(row).to_contain_text("未认领")
    screenshot(page, "tasks")

    row.get_by_test_id("claim").click()
    expect(page.locator(".flash")).to_contain_text("已认领")
    expect(row).to_contain_text("chengban (我)")
    row.get_by_test_id("open-task").click()
    expect(page.get_by_test_id("task-title")).to_contain_text("补充执行措施")
    expect(page.get_by_test_id("instructions")).to_contain_text("终本条件不具备")
    expect(page.get_by_test_id("case-summary")).to_contain_text("陈大明")
    expect(page.get_by_test_id("claim-state")).to_contain_text("你已认领此任务")

    page.fill("#f-measures_note", "查")                         # too short: the form wants 2 characters
    page.get_by_test_id("save-draft").click()
    expect(page.locator(".flash")).to_contain_text("草稿已保存")
    page.reload()
    expect(page.get_by_test_id("draft-restored")).to_be_visible()
    expect(page.locator("#f-measures_note")).to_have_value("查")

    page.get_by_test_id("complete").click()
    expect(page.get_by_test_id("form-problem")).to_contain_text("表单有错误")
    expect(page.get_by_test_id("error-measures_note")).to_have_text("至少 2 个字符")
    expect(page.locator("#f-measures_note")).to_have_value("查")
    screenshot(page, "task")

    page.fill("#f-measures_note", "已公告查找被执行人，并走访其住所地")
    page.check("input[name=debtor_searched][value=true]")
    page.get_by_test_id("complete").click()
    expect(page.locator(".flash")).to_contain_text("已办结：补充执行措施")
    expect(page.locator(f'[data-task-id="{task_id}"]')).to_have_count(0)

    # the engine searches again and now allows 终本: the applicant interview (a date and a yes/no) follows
    interview_id = open_task(engine, "interview")
    page.goto(f"/tasks/{interview_id}")
    page.fill("#f-interviewed_on", engine.clock.now().astimezone(COURT_TZ).date().isoformat())
    page.check("input[name=applicant_confirms][value=true]")
    page.fill("#f-applicant_view", "同意终结本次执行程序")
    page.get_by_test_id("complete").click()
    expect(page.locator(".flash")).to_contain_text("已办结")
    engine.run_until_idle()         # the 终本 ruling is generated and served

    page.goto("/cases?q=执900号")
    page.get_by_role("link", name=CASE).first.click()
    expect(page.get_by_test_id("case-title")).to_contain_text(CASE)
    expect(page.get_by_test_id("case-parties")).to_contain_text("四川锦城小额贷款有限公司")
    step = page.locator("[data-testid=timeline-entry][data-action=task_completed][data-node=supplement]")
    expect(step).to_contain_text("执行法官 李")
    expect(step).to_contain_text("补充执行措施")
    expect(page.locator("[data-testid=timeline-entry][data-action=task_claimed]").first).to_be_visible()
    document = page.get_by_test_id("document-link").first
    expect(document).to_contain_text("终结本次执行程序裁定书")
    screenshot(page, "case")
    with page.expect_download() as download:
        document.click()
    assert download.value.suggested_filename.endswith(".docx")
