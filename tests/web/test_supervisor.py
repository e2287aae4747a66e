"""Supervisors' pages (监督管理): who may open them, what each court sees, the list's filters and CSV export, the
instance view with its actions, incidents, the heatmap and the dashboard. Real SQLite and PostgreSQL, virtual
clock."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import pytest
from werkzeug.security import generate_password_hash

from web import create_app

from testpaths import TESTS

SUPERVISED = TESTS / "bpmn" / "supervision"
HIGH, COURT, OTHER = "川01", "川0104", "川0105"       # an intermediate court and two basic courts below it
PASSWORD = "pw-supervise"


@pytest.fixture
def world(engine, handler_log):
    """Three courts, a supervisor in each of them, and cases of the test procedure in the two basic courts."""
    engine.deploy([SUPERVISED])
    engine.add_court(HIGH, "成都市中级人民法院", "intermediate")
    engine.add_court(COURT, "武侯区人民法院", "basic", HIGH, {"idle_node_days": 20})
    engine.add_court(OTHER, "成华区人民法院", "basic", HIGH)
    pw = generate_password_hash(PASSWORD)
    engine.add_user("jiandu", "监督 孙", [(COURT, "supervisor")], pw)
    engine.add_user("zhihui", "指挥中心 刘", [(COURT, "command_centre"), (COURT, "filing_clerk")], pw)
    engine.add_user("shangji", "中院 监督", [(HIGH, "supervisor")], pw)
    engine.add_user("waiyuan", "成华 监督", [(OTHER, "supervisor"), (OTHER, "filing_clerk")], pw)
    engine.add_user("lian", "立案 王", [(COURT, "filing_clerk")], pw)
    return engine


def start(engine, case_no, court=COURT, owner="chengban", term="2026-08-31", debtor="乙公司"):
    return engine.start("supervised_case", case_no, court, {"owner": owner, "term_due_on": term, "debtor": debtor})


def complete(engine, instance_id, bpmn_id, user):
    [task] = [t for t in engine.tasks(instance_id=instance_id) if t.bpmn_id == bpmn_id]
    engine.complete_task(task.task_id, user)


def client_for(engine, username):
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    # logging in starts a new session, with a new token
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    client.token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client


def text(response) -> str:
    assert "Traceback" not in response.get_data(as_text=True)
    return response.get_data(as_text=True)


def listed(client, query="") -> list[str]:
    return re.findall(r"（2026）川\d+执\d+号", text(client.get(f"/supervise/instances?{query}")).split("<tbody>")[1])


PAGES = ["/supervise/", "/supervise/instances", "/supervise/instances.csv", "/supervise/incidents",
         "/supervise/heatmap", "/supervise/instances/1", "/supervise/diagram/supervised_case/1.bpmn"]


def test_pages_need_login_and_a_supervising_role(world):
    start(world, "（2026）川0104执1号")
    anonymous = create_app({"ENGINE": world, "TESTING": True, "SECRET_KEY": "test"}).test_client()
    for url in PAGES:
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    clerk = client_for(world, "lian")
    for url in PAGES:
        assert clerk.get(url).status_code == 403, url
    for url in ("/supervise/instances/1/suspend", "/supervise/incidents/1/retry"):
        assert clerk.post(url, data={"csrf_token": clerk.token, "reason": "x"}).status_code == 403
    assert "监督看板" not in text(clerk.get("/"))                   # no supervision entries in the navigation
    assert "监督看板" in text(client_for(world, "zhihui").get("/"))  # the command centre supervises too


def test_a_supervisor_of_another_court_gets_no_data(world, handler_log):
    handler_log.failures = 1
    case = start(world, "（2026）川0104执1号")
    complete(world, case.id, "register", "zhihui")
    world.run_until_idle()
    [job] = [j for j in world.incidents()]
    other = client_for(world, "waiyuan")
    assert listed(other) == [] and listed(other, "court=川0104") == []
    assert "（2026）川0104执1号" not in text(other.get("/supervise/instances.csv"))
    assert other.get(f"/supervise/instances/{case.id}").status_code == 404
    assert "（2026）川0104执1号" not in text(other.get("/supervise/incidents"))
    assert "（2026）川0104执1号" not in text(other.get("/supervise/"))
    for action in ("suspend", "terminate"):
        assert other.post(f"/supervise/instances/{case.id}/{action}",
                          data={"csrf_token": other.token, "reason": "x"}).status_code == 404
    assert other.post(f"/supervise/incidents/{job.id}/retry", data={"csrf_token": other.token}).status_code == 404
    assert world.instance(case.id).status == "running" and world.incidents()
    heat = world.supervision.heatmap([OTHER], "supervised_case", None, date(2026, 1, 1), date(2026, 12, 31))
    assert heat.nodes == {}


def test_a_higher_court_sees_its_lower_courts_on_request_but_acts_only_in_its_own(world):
    low = start(world, "（2026）川0104执1号")
    start(world, "（2026）川0105执1号", court=OTHER)
    high = client_for(world, "shangji")
    assert listed(high) == []
    assert sorted(listed(high, "sub=1")) == ["（2026）川0104执1号", "（2026）川0105执1号"]
    assert listed(high, "sub=1&court=川0105") == ["（2026）川0105执1号"]
    page = text(high.get(f"/supervise/instances/{low.id}"))
    assert "本案属于下级法院，您只能查看" in page and 'data-testid="do-suspend"' not in page
    assert high.post(f"/supervise/instances/{low.id}/suspend",
                     data={"csrf_token": high.token, "reason": "督办"}).status_code == 403
    assert "不能查看该法院" in text(client_for(world, "jiandu").get("/supervise/instances?court=川0105"))


def test_filters_overdue_idle_team_officer_incident_status_and_case_number(world, clock, handler_log):
    a = start(world, "（2026）川0104执1号", owner="chengban")
    b = start(world, "（2026）川0104执2号", owner="lisi", term="2026-03-04")
    clock.advance(timedelta(days=3))
    handler_log.failures = 1
    c = start(world, "（2026）川0104执3号", owner="wangwu")
    complete(world, c.id, "register", "zhihui")
    world.run_until_idle()                                      # c's notice fails: an incident
    world.claim_task(world.tasks(instance_id=a.id)[0].task_id, "zhihui")
    client = client_for(world, "jiandu")
    assert listed(client) == ["（2026）川0104执3号", "（2026）川0104执2号", "（2026）川0104执1号"]
    assert listed(client, "overdue=1") == ["（2026）川0104执2号"]          # past its term (03-04; today is 03-05)
    clock.advance(timedelta(days=5))                            # a's and b's filing checks (7 days) are late now
    assert listed(client, "overdue=1") == ["（2026）川0104执2号", "（2026）川0104执1号"]
    assert listed(client, "team=filing_clerk") == ["（2026）川0104执2号", "（2026）川0104执1号"]
    assert listed(client, "officer=lisi") == ["（2026）川0104执2号"]        # the case owner (fields.owner)
    assert listed(client, "officer=zhihui") == ["（2026）川0104执1号"]      # who claimed its open task
    assert listed(client, "incident=1") == ["（2026）川0104执3号"]
    assert listed(client, "q=执2") == ["（2026）川0104执2号"]
    assert listed(client, "stage=实施") == ["（2026）川0104执3号"]
    assert listed(client, "process=supervised_case&version=1&status=running") == listed(client)
    assert listed(client, "process=supervised_case&version=2") == []
    assert listed(client, "idle=9") == []
    clock.advance(timedelta(days=13))                           # day 21: b's last event was on day 0, a's and c's
    assert listed(client, "idle=limit") == ["（2026）川0104执2号"]            # on day 3; this court's limit: 20 days
    assert listed(client, "idle=17") == ["（2026）川0104执3号", "（2026）川0104执2号", "（2026）川0104执1号"]
    assert listed(client, "idle=19") == ["（2026）川0104执2号"]
    assert listed(client, "idle=22") == []
    world.suspend(b.id, "jiandu", "中止执行")
    assert listed(client, "status=suspended") == ["（2026）川0104执2号"]
    assert "（2026）川0104执2号" not in listed(client, "overdue=1")     # a suspended case's clock stands still
    bad = client.get("/supervise/instances?idle=abc&version=x")
    assert bad.status_code == 400
    assert 'data-testid="error-idle"' in text(bad) and 'data-testid="error-version"' in text(bad)


def test_list_is_paginated_and_exported_as_csv_with_the_same_filters(world, clock):
    for n in range(1, 56):
        start(world, f"（2026）川0104执{n}号", owner="chengban" if n % 2 else "lisi")
    start(world, "（2026）川0104执56号", owner="=HYPERLINK(\"http://evil\")")
    client = client_for(world, "jiandu")
    first, second = listed(client), listed(client, "page=2")
    assert len(first) == 50 and len(second) == 6 and first[0] == "（2026）川0104执56号"
    assert "共 56 件" in text(client.get("/supervise/instances"))
    response = client.get("/supervise/instances.csv?officer=lisi")
    assert response.mimetype == "text/csv" and response.is_streamed
    rows = list(csv.DictReader(io.StringIO(text(response).lstrip("\ufeff"))))
    assert len(rows) == 27 and {r["owner"] for r in rows} == {"lisi"}
    assert rows[0]["open_tasks"] == "立案 (register)" and rows[0]["teams"] == "filing_clerk"
    assert [r["case_no"] for r in rows] == listed(client, "officer=lisi")
    [formula] = csv.DictReader(io.StringIO(text(client.get("/supervise/instances.csv?q=执56")).lstrip("\ufeff")))
    assert formula["owner"].startswith("'=")                    # shown as text, never run by a spreadsheet


def test_instance_view_marks_the_path_tokens_and_failures_and_verifies_the_log(world, handler_log):
    handler_log.failures = 1
    case = start(world, "（2026）川0104执1号")
    complete(world, case.id, "register", "zhihui")
    world.run_until_idle()
    client = client_for(world, "jiandu")
    page = text(client.get(f"/supervise/instances/{case.id}"))
    marks = json.loads(re.search(r'<script type="application/json" id="marks">(.*?)</script>', page, re.S).group(1))
    assert {"start", "register", "begin"} <= set(marks["completed"]) and "act" not in marks["completed"]
    assert marks["active"] == ["notify"] and marks["failed"] == ["notify"]
    assert {"id": "notify", "text": "异常", "kind": "failed"} in marks["badges"]
    assert "校验通过" in page and "notification gateway timed out" in page and 'data-testid="retry"' in page
    assert "<th>debtor</th><td><code>&#34;乙公司&#34;</code>" in page   # variables, Chinese shown as Chinese
    xml = text(client.get("/supervise/diagram/supervised_case/1.bpmn"))
    assert "bpmndi:BPMNDiagram" in xml or "BPMNDiagram" in xml  # a layout is added to a hand-written diagram


def test_suspend_resume_terminate_need_a_reason_and_are_audited(world):
    case = start(world, "（2026）川0104执1号")
    client = client_for(world, "jiandu")
    url = f"/supervise/instances/{case.id}"
    response = client.post(f"{url}/suspend", data={"csrf_token": client.token, "reason": " "}, follow_redirects=True)
    assert "请填写挂起的理由" in text(response) and world.instance(case.id).status == "running"
    assert client.post(f"{url}/suspend", data={"reason": "x"}).status_code == 400            # no CSRF token
    client.post(f"{url}/suspend", data={"csrf_token": client.token, "reason": "等待破产审查"})
    assert world.instance(case.id).status == "suspended"
    response = client.post(f"{url}/suspend", data={"csrf_token": client.token, "reason": "again"},
                           follow_redirects=True)
    assert "cannot suspend" in text(response)                                               # a message, no trace
    client.post(f"{url}/resume", data={"csrf_token": client.token, "reason": "破产申请被驳回"})
    client.post(f"{url}/terminate", data={"csrf_token": client.token, "reason": "重复立案"})
    assert world.instance(case.id).status == "terminated"
    log = [(e.action, e.actor, e.data.get("reason")) for e in world.events(case.id)]
    assert ("instance_suspend", "jiandu", "等待破产审查") in log and ("instance_terminate", "jiandu", "重复立案") in log
    assert "流程已结束" in text(client.get(url))


def test_incidents_page_lists_and_retries(world, handler_log):
    handler_log.failures = 1
    case = start(world, "（2026）川0104执1号")
    complete(world, case.id, "register", "zhihui")
    world.run_until_idle()
    client = client_for(world, "zhihui")
    page = text(client.get("/supervise/incidents"))
    assert "（2026）川0104执1号" in page and "notification gateway timed out" in page and "1/1" in page
    [job] = world.incidents()
    response = client.post(f"/supervise/incidents/{job.id}/retry",
                           data={"csrf_token": client.token, "next": "/supervise/incidents"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/supervise/incidents")
    world.run_until_idle()
    assert world.incidents() == [] and [t.bpmn_id for t in world.tasks(instance_id=case.id)] == ["act"]
    assert "没有异常" in text(client.get("/supervise/incidents"))
    assert any(e.action == "incident_retried" and e.actor == "zhihui" for e in world.events(case.id))


def test_heatmap_counts_waiting_cases_and_the_median_time_at_each_node(world, clock):
    cases = [start(world, f"（2026）川0104执{n}号") for n in range(1, 5)]
    for days, case in zip((1, 2, 6), cases):
        clock.advance(timedelta(days=days))
        complete(world, case.id, "register", "zhihui")          # registered after 1, 3 and 9 days
    world.run_until_idle()
    today = clock.now().date()
    heat = world.supervision.heatmap([COURT], "supervised_case", None, today - timedelta(days=30), today)
    register, act = heat.nodes["register"], heat.nodes["act"]
    assert (register.waiting, register.completed, register.median_s) == (1, 3, 3 * 86400)
    assert act.waiting == 3 and heat.nodes["notify"].completed == 3 and heat.max_waiting == 3
    assert register.overdue == 1                                 # the fourth case waits 9 days of 7
    page = text(client_for(world, "jiandu").get("/supervise/heatmap?process=supervised_case"))
    assert 'data-node="register"' in page and "3.0天" in page
    empty = world.supervision.heatmap([COURT], "supervised_case", None, today - timedelta(days=400),
                                      today - timedelta(days=300))
    assert empty.nodes["register"].completed == 0 and empty.nodes["act"].waiting == 3
    bad = client_for(world, "jiandu").get("/supervise/heatmap?start=2026-05-01&end=2026-04-01")
    assert bad.status_code == 400 and "before it starts" in text(bad)


def test_dashboard_counts_deadlines_idle_cases_and_terms(world, clock):
    start(world, "（2026）川0104执1号", term="2026-02-01")
    start(world, "（2026）川0104执2号", term="2027-01-01")
    clock.advance(timedelta(days=25))
    start(world, "（2026）川0104执3号", term=None)
    board = world.supervision.dashboard([COURT])
    assert board.deadlines == {"filing_clerk": {"overdue": 2, "soon": 1}} and board.soon_days == 7
    assert board.idle_count == 2 and board.idle_limits == {COURT: 20}
    assert [a.case_no for a in board.idle] == ["（2026）川0104执1号", "（2026）川0104执2号"]
    assert board.term == {"within": 1, "past": 1, "unset": 1}
    assert [(a.case_no, a.since) for a in board.past_term] == [("（2026）川0104执1号", "2026-02-01")]
    assert board.backlog == (("监督测试案件 (supervised test case)", "", 3),)
    page = text(client_for(world, "jiandu").get("/supervise/"))
    assert 'data-testid="overdue-count">2<' in page and "（2026）川0104执1号" in page
    assert "监督看板" in page and 'id="chart-backlog"' in page
