"""The supervisor's journey: jiandu (监督管理) filters overdue cases, opens one and sees its token on the diagram,
retries an incident, and looks at the dashboard and the heatmap."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from engine.store.tables import human_tasks
from tools.demo import COURT

from journey import login, screenshot
from testpaths import TESTS

JOURNEY_BPMN = TESTS / "bpmn" / "supervision_journey"
OVERDUE_CASE = "（2026）川0104执9901号"
FAILING_CASE = "（2026）川0104执9902号"


@pytest.fixture(scope="module")
def cases(live_server):
    """An overdue case and a case with an incident, of a small procedure of the suite's own (the journey does not
    depend on how the real procedures in bpmn/ evolve), made through the engine like any other case."""
    engine = live_server.engine
    engine.deploy([JOURNEY_BPMN], actor="sheji")
    overdue = engine.start("watched_case", OVERDUE_CASE, COURT, {"debtor": "乙公司"}, actor="lian")
    # the live server runs on the real clock and a week cannot pass in a test: move the filing check's due
    # time into the past, as if the clerk had left it for ten days
    with engine.db.begin() as conn:
        conn.execute(human_tasks.update().where(human_tasks.c.instance_id == overdue.id)
                     .values(due_at=datetime.now(UTC) - timedelta(days=10)))
    # a debtor name of blanks: the notice service refuses it, and the case stops there as an incident
    failing = engine.start("watched_case", FAILING_CASE, COURT, {"debtor": "  "}, actor="lian")
    [task] = engine.tasks(instance_id=failing.id)
    engine.complete_task(task.task_id, "lian")
    engine.run_until_idle()
    assert engine.supervision.incidents([COURT])[1] >= 1
    return overdue, failing


def test_supervisor_filters_overdue_cases_sees_the_token_and_retries_an_incident(page, cases):
    overdue, failing = cases
    login(page, "jiandu")
    page.locator("nav").get_by_text("监督看板").click()
    expect(page.get_by_test_id("card-deadlines")).to_be_visible()
    expect(page.locator("[data-chart='chart-deadlines'][data-ready='1']")).to_be_visible()
    screenshot(page, "supervise-dashboard")

    page.locator("nav").get_by_text("流程实例").click()
    page.get_by_test_id("filter-overdue").check()
    page.get_by_test_id("apply-filters").click()
    assert "overdue=1" in page.url
    rows = page.get_by_test_id("instance-row")
    expect(rows.filter(has_text=OVERDUE_CASE)).to_have_count(1)
    expect(rows.filter(has_text=FAILING_CASE)).to_have_count(0)            # its tasks are in time
    assert rows.count() == rows.filter(has_text="超期").count()             # every case listed is marked overdue
    screenshot(page, "supervise-instances")

    rows.filter(has_text=OVERDUE_CASE).get_by_role("link", name=OVERDUE_CASE).click()
    expect(page.get_by_test_id("case-no")).to_contain_text(OVERDUE_CASE)
    expect(page.locator("#diagram[data-ready='1']")).to_be_visible()
    token = page.locator(".djs-element.zx-token[data-element-id='check']")
    expect(token).to_have_count(1)
    frame = page.locator("#diagram").bounding_box()
    assert _inside(token.bounding_box(), frame), "the view opens on the case's current node"
    expect(page.locator(".djs-element[data-element-id='lane_officer']")).to_contain_text("执行实施团队")
    page.get_by_test_id("diagram-fit").click()
    page.get_by_test_id("diagram-current").click()
    assert _inside(token.bounding_box(), frame)
    expect(page.locator(".djs-element.zx-done[data-element-id='filed']")).to_have_count(1)
    expect(page.get_by_test_id("audit-status")).to_contain_text("校验通过")
    screenshot(page, "supervise-instance")

    page.locator("nav").get_by_text("异常").click()
    incident = page.get_by_test_id("incident-row").filter(has_text=FAILING_CASE)
    expect(incident).to_contain_text("recipient is empty")
    incident.get_by_role("link", name=FAILING_CASE).click()
    expect(page.locator(".djs-element.zx-failed[data-element-id='notify']")).to_have_count(1)
    page.get_by_test_id("incident").get_by_test_id("retry").click()
    expect(page.locator(".flash")).to_contain_text("已重新排队")
    expect(page.get_by_test_id("event-log")).to_contain_text("incident_retried")


def _inside(box, frame) -> bool:
    return (box["x"] >= frame["x"] and box["y"] >= frame["y"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
            and box["y"] + box["height"] <= frame["y"] + frame["height"])


def test_heatmap_shows_cases_waiting_at_each_node(page, cases):
    login(page, "jiandu")
    page.goto("/supervise/heatmap?process=watched_case")
    expect(page.locator("#diagram[data-ready='1']")).to_be_visible()
    expect(page.locator(".zx-badge.zx-late").first).to_be_visible()      # the overdue filing check
    expect(page.get_by_test_id("heat-table")).to_contain_text("立案审查")
    screenshot(page, "supervise-heatmap")


def test_officer_cannot_open_supervision(page):
    login(page, "chengban")
    response = page.goto("/supervise/instances")
    assert response.status == 403
    assert re.search("无权访问", page.locator("[role=alert]").inner_text())
