"""Officers' pages (W1): my tasks, the task page with its form and drafts, claims and reassignment, the case page
and its search; every route's role and court checks."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import url_for
from werkzeug.security import generate_password_hash

from engine import Forbidden
from web import create_app

from testpaths import ENGINE_BPMN, TESTS

OFFICER_BPMN = TESTS / "bpmn" / "officer"
COURT, OTHER = "川0104", "川9999"
PASSWORD = "pw"


@pytest.fixture
def app(engine):
    engine.deploy([ENGINE_BPMN])
    engine.deploy([OFFICER_BPMN])
    pw = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    for username, name, roles in [
        ("clerk", "立案 王", [(COURT, "filing_clerk")]),
        ("clerk2", "立案 孙", [(COURT, "filing_clerk")]),
        ("officer", "执行 李", [(COURT, "implementation_officer"), (COURT, "panel_member")]),
        ("leader", "指挥中心 刘", [(COURT, "command_centre")]),
        ("watcher", "监督 周", [(COURT, "supervisor")]),
        ("designer", "设计 吴", [(COURT, "designer")]),
        ("farclerk", "外院 立案", [(OTHER, "filing_clerk"), (OTHER, "command_centre")]),
    ]:
        engine.add_user(username, name, roles, pw)
    return create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})


@pytest.fixture
def client(app):
    return app.test_client()


def csrf(client, path="/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def login(client, username):
    client.get("/login")
    token = csrf(client)
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return csrf(client)         # a new session, a new token


def start(engine, case_no, court=COURT, results=(), **data):
    """Start a case; ``results``: ``(operator, handler result)`` pairs that become its case-file records as the
    handlers declare them (the case page reads only the case file)."""
    import handlers.enforcement  # noqa: F401
    from engine.kernel.casefile import records_from_result
    from handlers import REGISTRY
    data.setdefault("applicant_name", "某银行")
    data.setdefault("debtor_name", "张某")
    data.setdefault("amount", 50000)
    records = [{"kind": kind, "body": body} for operator, result in results
               for kind, body in records_from_result(REGISTRY.get(operator), result, case_no)]
    return engine.start("officer_case", case_no, court, data, records=records)


def task_of(engine, case_no, bpmn_id="record"):
    [task] = [t for t in engine.tasks(case_no=case_no) if t.bpmn_id == bpmn_id]
    return task


def text(response) -> str:
    return response.get_data(as_text=True)


# -- landing and access -------------------------------------------------------------------------------------
def test_landing_page_by_role(app, client):
    assert "/login" in client.get("/").headers["Location"]
    login(client, "clerk")
    assert client.get("/").status_code == 200 and "我的待办" in text(client.get("/"))
    for username, endpoint in (("designer", "design.index"), ("watcher", "supervise.dashboard")):
        other = app.test_client()
        login(other, username)
        response = other.get("/")
        if endpoint in app.view_functions:
            with app.test_request_context():
                expected = url_for(endpoint)
            assert response.status_code == 302 and response.headers["Location"].endswith(expected)
        else:
            assert response.status_code == 200 and "没有办案角色" in text(response)


def test_each_route_refuses_users_without_the_role(engine, client):
    start(engine, "（2026）川0104执1号")
    task = task_of(engine, "（2026）川0104执1号")
    for path in (f"/tasks/{task.task_id}", "/cases", "/cases/（2026）川0104执1号"):
        assert "/login" in client.get(path).headers["Location"]
    token = login(client, "designer")
    for path in (f"/tasks/{task.task_id}", "/cases", "/cases/（2026）川0104执1号",
                 "/cases/（2026）川0104执1号/documents/1"):
        assert client.get(path).status_code == 403, path
    for action in ("claim", "unclaim", "reassign"):
        assert client.post(f"/tasks/{task.task_id}/{action}", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/tasks/{task.task_id}", data={"csrf_token": token, "action": "complete"}).status_code == 403


def test_a_user_of_another_court_gets_no_data(engine, client):
    start(engine, "（2026）川0104执1号")
    task = task_of(engine, "（2026）川0104执1号")
    token = login(client, "farclerk")      # filing clerk and team leader, but in another court
    page = text(client.get("/"))
    assert "川0104执1号" not in page and "共 0 项" in page
    assert "川0104执1号" not in text(client.get("/?scope=team"))
    assert client.get(f"/tasks/{task.task_id}").status_code == 403
    assert client.post(f"/tasks/{task.task_id}", data={"csrf_token": token, "action": "complete",
                                                       "debtor_name": "王某"}).status_code == 403
    assert "川0104执1号" not in text(client.get("/cases?q=川0104"))
    response = client.get("/cases/（2026）川0104执1号")
    assert response.status_code == 404 and "张某" not in text(response)
    client.post(f"/tasks/{task.task_id}/reassign", data={"csrf_token": token, "target": "farclerk"})
    assert engine.tasks(case_no="（2026）川0104执1号")[0].claimed_by is None


# -- my tasks -----------------------------------------------------------------------------------------------
def test_my_tasks_show_parties_stage_due_and_filter(engine, clock, client):
    for n, debtor in ((1, "张某"), (2, "李某"), (3, "王某")):
        start(engine, f"（2026）川0104执{n}号", debtor_name=debtor)
        clock.advance(timedelta(minutes=1))
    start(engine, "（2026）川9999执1号", court=OTHER)
    login(client, "clerk")
    page = text(client.get("/"))
    assert "共 3 项" in page and "川9999" not in page
    assert "被执行人：李某" in page and "申请人：某银行" in page and "办案页面测试" in page
    assert "登记 (record)" in page and "2026-03-05</span>" in page    # P3D from Monday 2 March: ends on the 5th
    assert 'data-testid="overdue"' not in page
    only = text(client.get("/?case_no=执2号"))
    assert "（2026）川0104执2号" in only and "（2026）川0104执1号" not in only
    clock.advance(timedelta(days=4))
    late = text(client.get("/?overdue=1"))
    assert "共 3 项" in late and 'data-testid="overdue"' in late
    assert "共 0 项" in text(client.get("/?claim=mine"))
    assert "共 3 项" in text(client.get("/?claim=unclaimed&sort=created&role=filing_clerk"))
    newest_first = text(client.get("/?sort=created"))
    assert newest_first.index("川0104执3号") < newest_first.index("川0104执1号")


def test_paging(engine, client):
    for n in range(1, 53):
        start(engine, f"（2026）川0104执{n}号")
    login(client, "clerk")
    first = text(client.get("/"))
    assert "共 52 项" in first and "第 1 / 2 页" in first and first.count('data-testid="task-row"') == 50
    second = text(client.get("/?page=2"))
    assert second.count('data-testid="task-row"') == 2


def test_claim_unclaim_and_reassign(engine, client, app):
    start(engine, "（2026）川0104执1号")
    task = task_of(engine, "（2026）川0104执1号")
    token = login(client, "clerk")
    response = client.post(f"/tasks/{task.task_id}/claim", data={"csrf_token": token, "next": "/"},
                           follow_redirects=True)
    assert "已认领" in text(response) and "clerk (我)" in text(response)
    assert "共 1 项" in text(client.get("/?claim=mine"))

    other = app.test_client()
    token2 = login(other, "clerk2")
    response = other.post(f"/tasks/{task.task_id}/claim", data={"csrf_token": token2}, follow_redirects=True)
    assert "任务已由 clerk 认领" in text(response)
    assert other.post(f"/tasks/{task.task_id}/reassign", data={"csrf_token": token2,
                                                               "target": "clerk2"}).status_code == 403

    boss = app.test_client()
    token3 = login(boss, "leader")
    team = text(boss.get("/?scope=team"))
    assert "川0104执1号" in team
    page = text(boss.get(f"/tasks/{task.task_id}"))
    assert 'data-testid="reassign"' in page and "clerk2" in page and "只能查看和改派" in page
    response = boss.post(f"/tasks/{task.task_id}/reassign", data={"csrf_token": token3, "target": "officer"},
                         follow_redirects=True)
    assert "必须在法院 川0104 持有角色" in text(response)
    response = boss.post(f"/tasks/{task.task_id}/reassign", data={"csrf_token": token3, "target": "clerk2"},
                         follow_redirects=True)
    assert "已改派给 clerk2" in text(response)
    assert task_of(engine, "（2026）川0104执1号").claimed_by == "clerk2"
    [event] = [e for e in engine.events(task.instance_id) if e.action == "task_reassigned"]
    assert event.actor == "leader" and event.data == {"from": "clerk", "to": "clerk2"}
    assert engine.verify_audit(task.instance_id)[0].ok

    response = client.post(f"/tasks/{task.task_id}/unclaim", data={"csrf_token": token}, follow_redirects=True)
    assert "任务不是由你认领的" in text(response)
    response = other.post(f"/tasks/{task.task_id}/unclaim", data={"csrf_token": token2}, follow_redirects=True)
    assert "已放弃认领" in text(response)


# -- the task page ------------------------------------------------------------------------------------------
def test_task_page_renders_the_form_with_summary_and_instructions(engine, client):
    start(engine, "（2026）川0104执1号")
    task = task_of(engine, "（2026）川0104执1号")
    login(client, "clerk")
    page = text(client.get(f"/tasks/{task.task_id}"))
    assert "核对申请材料并登记。" in page and "Record what the applicant brought." in page
    assert 'data-testid="fact-debtor_name">张某' in page and "某银行" in page
    assert page.index('name="debtor_name"') < page.index('name="amount"') < page.index('name="copies"') \
        < page.index('name="note"')                                             # ui:order with "*"
    assert 'placeholder="如 张某"' in page and "全名" in page
    assert 'type="number" value="" min="1" step="any"' in page                  # number
    assert 'min="0" max="10" step="1"' in page                                   # integer
    assert 'name="confirmed" value="true"' in page and 'name="confirmed" value="false"' in page   # 是 / 否
    assert 'type="checkbox" value="true"' in page                                # ui:widget checkbox
    assert 'type="radio" name="kind" value="natural_person"' in page and "自然人" in page
    assert '<option value="refuse">不予受理</option>' in page                    # oneOf titles
    assert 'type="date"' in page
    assert 'name="measures" value="freeze"' in page and "至少选一项" in page
    assert 'name="clues"' in page and 'name="extra"' in page
    assert page.count('class="required"') >= 4


def test_field_errors_then_complete(engine, client):
    start(engine, "（2026）川0104执1号")
    task = task_of(engine, "（2026）川0104执1号")
    token = login(client, "clerk")
    form = {"csrf_token": token, "action": "complete", "debtor_name": "张", "amount": "abc", "confirmed": "true",
            "measures": ["freeze"], "clues": "银行账户\n\n车辆", "extra": "{bad"}
    response = client.post(f"/tasks/{task.task_id}", data=form)
    page = text(response)
    assert response.status_code == 422 and "表单有错误" in page
    assert re.search(r'data-testid="error-amount">请输入数字<', page)
    assert re.search(r'data-testid="error-extra">不是有效的 JSON<', page)
    assert 'value="abc"' in page and "银行账户\n\n车辆" in page                  # what was typed is kept

    form.update(amount="0", extra='{"k": 1}')
    page = text(client.post(f"/tasks/{task.task_id}", data=form))             # now the engine's validation
    assert re.search(r'data-testid="error-debtor_name">至少 2 个字符<', page)
    assert re.search(r'data-testid="error-amount">不能小于 1<', page)
    assert 'value="张"' in page and 'aria-invalid="true"' in page

    form.update(debtor_name="张某某", amount="120,000.50", copies="2", filed_on="2026-03-01", kind="enterprise",
                outcome="accept", urgent="true", note="  ")
    response = client.post(f"/tasks/{task.task_id}", data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    assert "已办结" in text(client.get("/"))
    assert not [t for t in engine.tasks(case_no="（2026）川0104执1号") if t.bpmn_id == "record"]
    data = engine.variables(task.instance_id)
    assert data["amount"] == 120000.5 and data["copies"] == 2 and data["confirmed"] is True
    assert data["measures"] == ["freeze"] and data["clues"] == ["银行账户", "车辆"] and data["extra"] == {"k": 1}
    assert data["urgent"] is True and data["kind"] == "enterprise" and "note" not in data

    case = text(client.get("/cases/（2026）川0104执1号"))
    assert 'data-action="task_completed" data-node="record"' in case and "立案 王" in case


def test_draft_is_kept_per_user_and_dropped_on_completion(engine, client, app):
    start(engine, "（2026）川0104执1号")
    task = task_of(engine, "（2026）川0104执1号")
    token = login(client, "clerk")
    response = client.post(f"/tasks/{task.task_id}", data={"csrf_token": token, "action": "draft",
                                                            "debtor_name": "半", "amount": "x1",
                                                            "measures": ["seize"]}, follow_redirects=True)
    page = text(response)
    assert "草稿已保存" in page and 'data-testid="draft-restored"' in page
    assert 'value="半"' in page and 'value="x1"' in page and 'value="seize" checked' in page
    other = app.test_client()
    login(other, "clerk2")
    assert 'value="半"' not in text(other.get(f"/tasks/{task.task_id}"))
    client.post(f"/tasks/{task.task_id}", data={"csrf_token": token, "action": "complete", "debtor_name": "张某",
                                                "amount": "5", "confirmed": "false", "measures": ["seize"]})
    assert engine.casework.draft(task.task_id, "clerk") is None


def test_refusals_show_as_messages(engine, client, app):
    start(engine, "（2026）川0104执1号")
    record = task_of(engine, "（2026）川0104执1号")
    engine.add_user("both", "立案兼执行", [(COURT, "filing_clerk"), (COURT, "implementation_officer")],
                    generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))
    engine.complete_task(record.task_id, "both", {"debtor_name": "张某", "amount": 5, "confirmed": True,
                                                  "measures": ["freeze"]})
    act = task_of(engine, "（2026）川0104执1号", "act")
    token = login(client, "both")
    response = client.post(f"/tasks/{act.task_id}", data={"csrf_token": token, "action": "complete"})
    assert response.status_code == 403 and "审执分离" in text(response)

    officer = app.test_client()
    token2 = login(officer, "officer")
    officer.post(f"/tasks/{act.task_id}/claim", data={"csrf_token": token2})
    response = client.post(f"/tasks/{act.task_id}", data={"csrf_token": token, "action": "complete"})
    assert response.status_code == 403 and "只有认领人可以办结" in text(response)
    response = officer.post(f"/tasks/{act.task_id}", data={"csrf_token": token2, "action": "complete"})
    assert response.status_code == 302
    gone = officer.get(f"/tasks/{act.task_id}")
    assert gone.status_code == 404 and "已办结" in text(gone)


def test_the_old_engine_task_list_still_works(engine, client):
    engine.deploy([ENGINE_BPMN])
    engine.start("case_flow", "（2026）川0104执7号", COURT)
    login(client, "clerk")
    page = text(client.get("/"))
    assert "（2026）川0104执7号" in page and "Register the application" in page


# -- cases --------------------------------------------------------------------------------------------------
SEARCH = {"query_id": "Q1", "channel": "national", "channel_cn": "总对总", "queried_at": "2026-03-02T09:00:00+08:00",
          "categories": ["deposit", "vehicle"], "found": 2,
          "complete": True, "assets": [
              {"asset_id": "A-DEP", "category": "deposit", "category_cn": "存款", "holder": "工商银行",
               "description": "活期存款", "value": "86000.00", "encumbrances": []},
              {"asset_id": "A-CAR", "category": "vehicle", "category_cn": "车辆", "holder": "车管所",
               "description": "川A·8K2J3", "value": "150000.00", "encumbrances": ["青羊区法院查封"]}]}
FREEZE = {"measure_id": "M1", "asset_id": "A-DEP", "category": "deposit", "measure": "freeze", "measure_cn": "冻结",
          "status": "in_force", "rank": 1, "amount": "50000.00", "months": 12, "starts_on": "2026-03-02",
          "expires_on": "2026-03-20", "at": "2026-03-02T10:00:00+08:00"}
SEIZE = {"measure_id": "M2", "asset_id": "A-CAR", "category": "vehicle", "measure": "seize", "measure_cn": "查封",
         "status": "queued", "rank": 2, "starts_on": None, "expires_on": None, "at": "2026-03-02T10:01:00+08:00"}
RENEW = {"measure_id": "M1", "asset_id": "A-DEP", "status": "in_force", "previous_expires_on": "2026-03-20",
         "expires_on": "2027-03-20", "renewals": 1, "at": "2026-03-03T10:00:00+08:00"}
RECEIPT = {"receipt_id": "R1", "account_no": "ACC1", "amount": "50000.00", "payer": "张某", "source_cn": "扣划存款",
           "received_at": "2026-03-04T10:00:00+08:00", "payout_due": "2026-04-03"}
PAYOUT = {"payout_id": "P1", "account_no": "ACC1", "amount": "30000.00", "payee": "某银行", "purpose_cn": "发放申请执行人",
          "paid_at": "2026-03-05T10:00:00+08:00"}
DOC = {"path": "川0104_1/enforcement_notice-abc.docx", "doc_type": "enforcement_notice", "title": "执行通知书",
       "case_no": "（2026）川0104执1号", "sha256": "0" * 64, "size": 2048, "generated_at": "2026-03-02T10:00:00+08:00"}


def test_case_page_shows_assets_money_documents_and_related_cases(engine, client, app, tmp_path, monkeypatch):
    monkeypatch.setenv("ZHIXING_DOCUMENT_DIR", str(tmp_path))
    (tmp_path / "川0104_1").mkdir()
    (tmp_path / "川0104_1" / "enforcement_notice-abc.docx").write_bytes(b"PK docx")
    (tmp_path / "secret.docx").write_bytes(b"secret")
    start(engine, "（2026）川0104执1号", results=[("asset.search", SEARCH), ("asset.control", FREEZE),
                                               ("asset.control", SEIZE), ("asset.renew", RENEW),
                                               ("ledger.receive", RECEIPT), ("ledger.payout", PAYOUT),
                                               ("document.generate", DOC)])
    engine.start("officer_case", "（2026）川0104执异1号", COURT, {"debtor_name": "张某"},
                 related_case_no="（2026）川0104执1号")
    with pytest.raises(Forbidden, match="related_case_no"):    # no relation to a case of an unrelated court
        engine.start("officer_case", "（2026）川9999执恢1号", OTHER, {"debtor_name": "张某"},
                     related_case_no="（2026）川0104执1号")
    engine.add_court("川01", "成都市中级人民法院", "intermediate")
    engine.add_court(COURT, "成都市锦江区人民法院", "basic", "川01")
    engine.start("officer_case", "（2026）川01执复1号", "川01", {"debtor_name": "张某"},   # the higher court's review
                 related_case_no="（2026）川0104执1号")
    login(client, "officer")
    response = client.get("/cases/（2026）川0104执1号")
    page = text(response)
    assert response.status_code == 200
    assert "活期存款" in page and "冻结" in page and "2027-03-20" in page and 'data-testid="expiring"' not in page
    assert "川A·8K2J3" in page and "轮候" in page and "第 2 顺位" in page and "青羊区法院查封" in page
    assert "到账 50000.00 元 · 发放 30000.00 元 · 余额 20000.00 元" in page
    assert "执行通知书" in page and "（2026）川0104执异1号" in page and "执行异议" in page
    assert "川01执复1号" not in page                          # a related case of another court stays hidden
    assert 'data-action="instance_started"' in page
    child = text(client.get("/cases/（2026）川0104执异1号"))
    assert "（2026）川0104执1号" in child and "本案所属案件" in child

    link = re.search(r'href="([^"]+)" data-testid="document-link"', page).group(1)
    with client.get(link) as download:
        assert download.status_code == 200 and download.data == b"PK docx"
        assert "attachment" in download.headers["Content-Disposition"]
    assert client.get("/cases/（2026）川0104执1号/documents/secret.docx").status_code == 404
    assert client.get("/cases/（2026）川0104执1号/documents/../secret.docx").status_code == 404
    # a document is served by its record id: another record of the case, or an unknown one, is not a document
    assert link.endswith("/documents/" + link.rsplit("/", 1)[1]) and link.rsplit("/", 1)[1].isdigit()
    assert client.get("/cases/（2026）川0104执1号/documents/1").status_code == 404          # the asset search
    assert client.get("/cases/（2026）川0104执1号/documents/99999").status_code == 404

    outsider = app.test_client()
    login(outsider, "farclerk")
    assert outsider.get(link).status_code == 404


def test_control_measure_close_to_expiry_is_marked(engine, client):
    start(engine, "（2026）川0104执1号", results=[("asset.search", SEARCH), ("asset.control", FREEZE)])
    login(client, "officer")
    page = text(client.get("/cases/（2026）川0104执1号"))
    assert 'data-testid="expiring"' in page and "18 天后到期" in page


def test_officers_see_the_public_code_that_opens_the_public_page(engine, client, app):
    start(engine, "（2026）川0104执1号")
    login(client, "officer")
    page = text(client.get("/cases/（2026）川0104执1号"))
    code = re.search(r'data-testid="public-code">([^<]+)<', page).group(1)
    assert code == engine.public_code("（2026）川0104执1号")
    assert engine.public.lookup("（2026）川0104执1号", code, "198.51.100.7") is not None
    supervisor = app.test_client()
    login(supervisor, "watcher")                    # supervisors read the case but print no notices
    assert 'data-testid="public-code"' not in text(supervisor.get("/cases/（2026）川0104执1号"))


def test_case_search_by_number_and_party(engine, client):
    start(engine, "（2026）川0104执1号", debtor_name="成都某贸易有限公司")
    start(engine, "（2026）川0104执2号", debtor_name="张某")
    start(engine, "（2026）川9999执1号", court=OTHER, debtor_name="成都某贸易有限公司")
    login(client, "watcher")                    # supervisors search cases too
    found = text(client.get("/cases?q=贸易"))
    assert "（2026）川0104执1号" in found and "川0104执2号" not in found and "川9999" not in found
    assert "（2026）川0104执2号" in text(client.get("/cases?q=执2号"))
    assert "没有找到案件" in text(client.get("/cases?q=100%_"))
    everything = text(client.get("/cases"))
    assert everything.count('data-testid="case-row"') == 2
    assert "川0104执2号" in text(client.get("/cases?status=running"))
    assert "没有找到案件" in text(client.get("/cases?status=completed"))


def test_pages_in_english(engine, client):
    start(engine, "（2026）川0104执1号")
    task = task_of(engine, "（2026）川0104执1号")
    token = login(client, "clerk")
    client.post("/language/en", data={"csrf_token": token, "next": "/"})
    assert "My tasks" in text(client.get("/")) and "Claim" in text(client.get("/"))
    page = text(client.post(f"/tasks/{task.task_id}", data={"csrf_token": token, "action": "complete",
                                                            "debtor_name": "张"}))
    assert "Required" in page and "At least 2 characters" in page
    assert "Execution log" in text(client.get("/cases/（2026）川0104执1号"))


def test_every_text_of_the_officer_pages_has_an_english_translation():
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    root = TESTS.parent / "web"
    sources = [("python", root / name) for name in ("tasks.py", "cases.py", "task_form.py")] + \
        [("jinja2.ext:babel_extract", root / "templates" / "officer" / name)
         for name in ("tasks.html", "task.html", "cases.html", "case.html", "case_facts.html")]
    texts = {text for method, path in sources
             for _line, text, _comments, _context in extract_from_file(method, str(path), keywords={"_": None,
                                                                                                     "_l": None})}
    with (root / "i18n" / "officer" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = {m.id: m.string for m in read_po(po) if m.id}
    assert sorted(t for t in texts if not catalogue.get(t)) == []
