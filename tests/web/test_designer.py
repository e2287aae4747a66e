"""Designers' pages (流程设计): role and court checks, drafts, validation, deploy, compare, migrate, forms, simulate."""
from __future__ import annotations

import re

import pytest
from werkzeug.security import generate_password_hash

from tools.scenarios import simulate_draft
from web import create_app

from testpaths import ENGINE_BPMN

CASE = "（2026）J0104执7号"
PASSWORD = generate_password_hash("pw")
SCENARIO = """
court: J0104
handlers:
  test.notify: {result: {sent: true}}
users:
  clerk: {name: 立案 王, roles: [filing_clerk]}
steps:
  - start: {process: case_flow, case: （2026）J0104执1号, as: clerk}
  - complete: {task: register, as: clerk, data: {debtor: 乙公司, amount: 5000}}
  - expect: {status: completed}
"""


@pytest.fixture
def app(engine):
    engine.deploy([ENGINE_BPMN])
    engine.add_user("sheji", "流程设计 周", [("J0104", "designer")], PASSWORD)
    engine.add_user("waiyuan", "外院 设计", [("J9999", "designer")], PASSWORD)
    engine.add_user("chengban", "执行法官 李", [("J0104", "implementation_officer")], PASSWORD)
    view = engine.start("case_flow", CASE, "J0104")
    [register] = engine.tasks(instance_id=view.id)
    engine.complete_task(register.task_id, "clerk", {"debtor": "乙公司", "amount": 250000})
    engine.run_until_idle()
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    app.instance_id = view.id
    return app


def login(app, username):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": "pw", "csrf_token": token}).status_code == 302
    client.token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    return client


def post(client, url, **data):
    return client.post(url, data={"csrf_token": client.token, **data})


def post_json(client, url, body=None):
    return client.post(url, json=body or {}, headers={"X-CSRF-Token": client.token})


def new_draft(client) -> str:
    response = post(client, "/design/drafts", process="case_flow", version="1")
    assert response.status_code == 302
    return response.headers["Location"]


PAGES = ["/design/", "/design/compare?process=case_flow", "/design/migrate?process=case_flow",
         "/design/migrate/rows?process=case_flow&ids=1", "/design/versions/case_flow/1.bpmn"]


@pytest.mark.parametrize("url", PAGES)
def test_pages_need_login_and_the_designer_role(app, url):
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert login(app, "chengban").get(url).status_code == 403


def test_actions_need_the_designer_role(app):
    officer = login(app, "chengban")
    assert post(officer, "/design/drafts", process="case_flow", version="1").status_code == 403
    draft = new_draft(login(app, "sheji"))
    for suffix in ("", "/file?name=case_flow.bpmn", "/simulate"):
        assert officer.get(draft + suffix).status_code == 403
    for suffix in ("/validate", "/deploy", "/delete"):
        assert post(officer, draft + suffix).status_code == 403
    assert post(officer, "/design/migrate", process="case_flow", old="1", new="1",
                instance=str(app.instance_id)).status_code == 403


def test_procedure_list_counts_only_the_cases_of_my_courts(app):
    mine = login(app, "sheji").get("/design/").get_data(as_text=True)
    other = login(app, "waiyuan").get("/design/").get_data(as_text=True)
    running = re.compile(r'data-testid="running">(\d+)<')
    assert "case_flow" in mine and running.findall(mine) == ["1", "0"]      # case_flow@1, objection@1
    assert set(running.findall(other)) == {"0"}


def test_draft_save_validate_and_deploy(app):
    client = login(app, "sheji")
    draft = new_draft(client)
    page = client.get(draft).get_data(as_text=True)
    assert 'data-kind="bpmn"' in page and "register.schema.json" in page
    xml = client.get(draft + "/file?name=case_flow.bpmn").get_data(as_text=True)
    assert "bpmndi:BPMNDiagram" in xml        # a layout was added to a diagram written without one

    broken = xml.replace('id="test.notify"', 'id="test.notfy"')
    assert post_json(client, draft + "/file", {"name": "case_flow.bpmn", "content": broken}).json == {"ok": True}
    problems = post_json(client, draft + "/validate").json["problems"]
    assert [(p["element_id"], "not registered" in p["message"]) for p in problems] == [("notify", True)]
    refused = post_json(client, draft + "/deploy")
    assert refused.status_code == 422 and refused.json["problems"][0]["element_id"] == "notify"

    fixed = xml.replace('name="Decide on measures"', 'name="Decide (v2)"')
    post_json(client, draft + "/file", {"name": "case_flow.bpmn", "content": fixed})
    assert post_json(client, draft + "/validate").json["problems"] == []
    deployed = post_json(client, draft + "/deploy").json
    assert deployed["ok"] and "case_flow@2" in deployed["created"]
    assert deployed["migrate_url"] == "/design/migrate?process=case_flow&old=1&new=2"


def test_a_form_with_an_invalid_schema_is_refused_with_a_field_error(app):
    client = login(app, "sheji")
    draft = new_draft(client)
    response = post(client, draft + "/file", name="register.schema.json",
                    content='{"type": "object", "properties": {"amount": {"type": "money"}}}')
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-testid="field-error"' in page and "properties/amount/type" in page
    assert "money" in page                                   # what was typed stays in the editor
    not_json = post(client, draft + "/file", name="register.schema.json", content="{oops")
    assert not_json.status_code == 422 and "not valid JSON" in not_json.get_data(as_text=True)
    good = post(client, draft + "/file", name="register.schema.json", content='{"type": "object"}')
    assert good.status_code == 302
    assert post(client, draft + "/forms", stem="seize").headers["Location"].endswith("file=seize.schema.json")


def test_compare_lists_added_removed_changed(app, engine):
    files = {p.name: p.read_bytes() for p in ENGINE_BPMN.iterdir()}
    files["case_flow.bpmn"] = files["case_flow.bpmn"].replace(b'name="Decide on measures"', b'name="Decide (v2)"') \
        .replace(b'"P10D"', b'"P15D"')
    engine.deploy(files)
    page = login(app, "sheji").get("/design/compare?process=case_flow").get_data(as_text=True)
    assert 'data-element-id="decide" data-kind="changed"' in page and "Decide (v2)" in page
    assert 'data-element-id="decide_deadline" data-kind="changed"' in page and "&#34;P15D&#34;" in page
    assert "changed:decide" in page           # coloured on the diagram


def test_migrate_preview_then_migrate_only_in_my_courts(app, engine):
    files = {p.name: p.read_bytes() for p in ENGINE_BPMN.iterdir()}
    files["case_flow.bpmn"] = files["case_flow.bpmn"].replace(b'name="Decide on measures"', b'name="Decide (v2)"')
    engine.deploy(files)
    outsider = login(app, "waiyuan")
    assert CASE not in outsider.get("/design/migrate?process=case_flow&old=1&new=2").get_data(as_text=True)
    refused = post(outsider, "/design/migrate", process="case_flow", old="1", new="2", instance=str(app.instance_id))
    assert "does not exist" in refused.get_data(as_text=True) and engine.instance(app.instance_id).version == 1

    rows = f"/design/migrate/rows?process=case_flow&old=1&new=2&ids={app.instance_id}"
    assert CASE not in outsider.get(rows).get_data(as_text=True)
    client = login(app, "sheji")
    preview = client.get("/design/migrate?process=case_flow&old=1&new=2").get_data(as_text=True)
    assert CASE in preview and f"ids={app.instance_id}" in preview          # each row is checked by migrate_rows
    checked = client.get(rows).get_data(as_text=True)
    assert "可以迁移" in checked and f'name="instance" value="{app.instance_id}"' in checked
    done = post(client, "/design/migrate", process="case_flow", old="1", new="2", instance=str(app.instance_id))
    assert "已迁移到版本 2" in done.get_data(as_text=True)
    assert engine.instance(app.instance_id).version == 2


def test_simulate_a_scenario_against_the_draft(app):
    client = login(app, "sheji")
    draft = new_draft(client)
    page = post(client, draft + "/simulate", scenario=SCENARIO).get_data(as_text=True)
    assert "PASS" in page and "case_flow@1" in page
    failing = post(client, draft + "/simulate", scenario=SCENARIO.replace("completed", "suspended"))
    assert "FAIL" in failing.get_data(as_text=True) and "expected suspended" in failing.get_data(as_text=True)
    bad = post(client, draft + "/simulate", scenario="steps: [").get_data(as_text=True)
    assert "FAIL" in bad and "not valid YAML" in bad


def test_a_scenario_that_runs_too_long_is_stopped(app, engine):
    draft_id = engine.design.create_draft("case_flow", 1, "sheji")
    files = engine.design.draft(draft_id).files
    looping = SCENARIO.replace("  - expect: {status: completed}", "\n".join(["  - note: tick"] * 50))
    run = simulate_draft(files, looping, seconds=0.0)
    assert run.timed_out and not run.ok and "stopped after" in run.summary


def test_errors_are_pages_not_traces(app):
    client = login(app, "sheji")
    assert client.get("/design/drafts/999").status_code == 404
    assert client.get("/design/compare?process=nope").status_code == 404
    assert client.get("/design/compare?process=case_flow&old=x").status_code == 400
    assert "Traceback" not in client.get("/design/drafts/999").get_data(as_text=True)


def test_every_text_of_the_designer_pages_has_an_english_translation():
    from pathlib import Path

    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    web = Path(__file__).resolve().parents[2] / "web"
    with (web / "i18n/designer/en/LC_MESSAGES/messages.po").open("rb") as po:
        catalogue = read_po(po)
    texts = {m for f in sorted((web / "templates/design").glob("*.html"))
             for _line, m, _c, _ctx in extract_from_file("jinja2", str(f))}
    texts |= {m for _line, m, _c, _ctx in extract_from_file("python", str(web / "design.py"))}
    assert sorted(t for t in texts if not (catalogue.get(t) and catalogue.get(t).string)) == []


def test_pages_in_english(app):
    client = login(app, "sheji")
    post(client, "/language/en")
    page = client.get("/design/").get_data(as_text=True)
    assert "Deployed procedures" in page and "Open in the modeler" in page


def test_a_draft_of_an_older_version_says_so(app, engine):
    client = login(app, "sheji")
    draft = new_draft(client)
    assert 'data-testid="stale-draft"' not in client.get(draft).get_data(as_text=True)
    files = {p.name: p.read_bytes() for p in ENGINE_BPMN.iterdir()}
    engine.deploy({**files, "case_flow.bpmn": files["case_flow.bpmn"].replace(b"Decide on measures", b"Decide")})
    assert 'data-testid="stale-draft"' in client.get(draft).get_data(as_text=True)


def test_a_draft_never_rolls_back_another_procedure_deployed_since(app, engine):
    from engine import StateError

    old_draft = engine.design.create_draft("case_flow", 1, "sheji")
    files = {p.name: p.read_bytes() for p in ENGINE_BPMN.iterdir()}
    newer = files["objection.bpmn"].replace(b"Rule on the objection", b"Rule on it")
    engine.deploy({**files, "objection.bpmn": newer})                      # objection@2
    with pytest.raises(StateError, match="roll back objection"):
        engine.design.deploy_draft(old_draft, "sheji")
    fresh = engine.design.create_draft("case_flow", 1, "sheji")           # takes objection as deployed now
    assert engine.design.draft(fresh).files["objection.bpmn"] == newer.decode()
    views = {v.process_id: v for v in engine.design.deploy_draft(fresh, "sheji")}
    assert not views["objection"].created and views["objection"].version == 2
