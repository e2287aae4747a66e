"""Hostile and malformed input on every public surface: a clear 4xx that names the problem, never a 500, and
nothing stored or lost (no new definition version, the task still open with what was typed)."""
from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from engine.store.tables import definitions, design_draft_files
from web import create_app

from testpaths import ENGINE_BPMN, TESTS

PASSWORD = "pw"
COURT = "J0104"
CASE = "（2026）J0104执1号"
CASE_FLOW = (ENGINE_BPMN / "case_flow.bpmn").read_text()
ESCAPE = "().__class__.__base__.__subclasses__()"
BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";" if i > 1 else "&lol;") * 10}">'
                            for i in range(1, 10))
                  + ']><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol9;'
                    '</bpmn:definitions>')
XXE = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
       '<bpmn:process id="x" name="&x;" isExecutable="true"/></bpmn:definitions>')

# name → (file name, content, a word the refusal must contain)
HOSTILE_FILES = {
    "malformed_xml": ("case_flow.bpmn", CASE_FLOW[:len(CASE_FLOW) // 2], "case_flow.bpmn"),
    "sandbox_escape": ("case_flow.bpmn", CASE_FLOW.replace("amount &gt;= 100000", ESCAPE), "flow_big"),
    "billion_laughs": ("case_flow.bpmn", BILLION_LAUGHS, "case_flow.bpmn"),
    "external_entity": ("case_flow.bpmn", XXE, "case_flow.bpmn"),
    "malformed_dmn": ("measure.dmn", '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"><decision',
                      "measure.dmn"),
    "form_not_json": ("register.schema.json", '{"type": "object", "properties": {', "register.schema.json"),
    "form_bad_schema": ("register.schema.json", '{"type": "object", "properties": {"amount": {"type": "money"}}}',
                        "register.schema.json"),
}


@pytest.fixture
def app(engine):
    engine.deploy([ENGINE_BPMN])
    engine.deploy([TESTS / "bpmn" / "officer"])
    pw = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    engine.add_user("sheji", "流程设计 周", [(COURT, "designer")], pw)
    engine.add_user("lian", "立案 王", [(COURT, "filing_clerk")], pw)
    engine.start("officer_case", CASE, COURT, {"applicant_name": "某银行", "debtor_name": "张某", "amount": 50000})
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    app.token = engine.tokens.create("sheji", "hostile", "admin", (), (), None)[1]
    return app


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)    # never reaches the database's types


def login(app, username):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}) \
        .status_code == 302
    client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
    return client


def stored_versions(engine) -> list:
    return engine.executor.read(lambda conn: conn.execute(
        sa.select(definitions.c.process_id, definitions.c.version).order_by(definitions.c.id)).all())


def deploy_set(**replace: str) -> dict:
    """The files of tests/bpmn/engine, some replaced or added."""
    files = {p.name: p.read_bytes() for p in ENGINE_BPMN.iterdir()}
    files.update({name: content.encode() for name, content in replace.items()})
    return files


# -- definitions: the API deploy endpoint and the designer's draft, save and deploy ----------------------------
@pytest.mark.parametrize("kind", HOSTILE_FILES)
def test_api_deploy_refuses_a_hostile_file_and_stores_nothing(app, engine, kind):
    name, content, word = HOSTILE_FILES[kind]
    before = stored_versions(engine)
    files = [(io.BytesIO(c), n) for n, c in deploy_set(**{name: content}).items()]
    response = app.test_client().post("/api/v1/definitions", data={"files": files},
                                      headers={"Authorization": f"Bearer {app.token}"},
                                      content_type="multipart/form-data")
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.json["error"]
    assert error["code"] == "invalid_definition" and word in json.dumps(error, ensure_ascii=False), error
    assert "root:" not in response.get_data(as_text=True)          # nothing of /etc/passwd
    assert stored_versions(engine) == before


@pytest.mark.parametrize("kind", HOSTILE_FILES)
def test_the_designer_cannot_deploy_a_hostile_file_and_stores_nothing(app, engine, kind):
    name, content, word = HOSTILE_FILES[kind]
    designer = login(app, "sheji")
    draft = designer.post("/design/drafts", data={"csrf_token": designer.csrf, "process": "case_flow",
                                                  "version": "1"}).headers["Location"]
    before = stored_versions(engine)
    saved = designer.post(draft + "/file", json={"name": name, "content": content},
                          headers={"X-CSRF-Token": designer.csrf})
    if saved.status_code == 422:              # a form that is not a JSON Schema is refused when saved
        assert name in saved.json["error"], saved.json
    else:
        assert saved.status_code == 200 and saved.json == {"ok": True}
        deployed = designer.post(draft + "/deploy", headers={"X-CSRF-Token": designer.csrf})
        assert deployed.status_code == 422 and deployed.json["ok"] is False, deployed.get_data(as_text=True)
        assert word in json.dumps(deployed.json["problems"], ensure_ascii=False), deployed.json
    assert stored_versions(engine) == before


@pytest.mark.parametrize("body", [[1, 2], "text", {}, {"name": 5, "content": "x"}, {"name": "a.bpmn", "content": 5},
                                  {"name": "../../etc/passwd", "content": "x"}])
def test_the_designer_save_refuses_bodies_of_the_wrong_shape(app, engine, body):
    designer = login(app, "sheji")
    draft = designer.post("/design/drafts", data={"csrf_token": designer.csrf, "process": "case_flow",
                                                  "version": "1"}).headers["Location"]
    files_before = engine.executor.read(lambda conn: conn.execute(sa.select(design_draft_files)).all())
    saved = designer.post(draft + "/file", json=body, headers={"X-CSRF-Token": designer.csrf})
    assert saved.status_code in (400, 422), saved.get_data(as_text=True)[:300]
    assert saved.json["ok"] is False and saved.json["error"]
    assert engine.executor.read(lambda conn: conn.execute(sa.select(design_draft_files)).all()) == files_before


def test_an_upload_over_the_limit_is_413_and_names_it(app, engine):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit and limit >= 10 * 1024 * 1024          # the largest diagram is far below
    huge = b"<x>" + b"a" * limit + b"</x>"
    before = stored_versions(engine)
    multipart = (b'--b\r\nContent-Disposition: form-data; name="files"; filename="case_flow.bpmn"\r\n\r\n' + huge
                 + b"\r\n--b--\r\n")              # built here: the test client would spool it to an unclosed file
    api = app.test_client().post("/api/v1/definitions", content_type="multipart/form-data; boundary=b",
                                 headers={"Authorization": f"Bearer {app.token}"}, data=multipart)
    assert api.status_code == 413 and api.json["error"]["code"] == "too_large"
    designer = login(app, "sheji")
    draft = designer.post("/design/drafts", data={"csrf_token": designer.csrf, "process": "case_flow",
                                                  "version": "1"}).headers["Location"]
    page = designer.post(draft + "/file", data={"csrf_token": designer.csrf, "name": "case_flow.bpmn",
                                                "content": huge.decode()})
    assert page.status_code == 413 and "上传内容过大" in page.get_data(as_text=True)
    modeler = designer.post(draft + "/file", json={"name": "case_flow.bpmn", "content": huge.decode()},
                            headers={"X-CSRF-Token": designer.csrf})
    assert modeler.status_code == 413 and "上传内容过大" in modeler.get_data(as_text=True)
    assert stored_versions(engine) == before


# -- an officer's task form: field errors, the task stays open and nothing typed is lost ------------------------
GOOD = {"debtor_name": "张某某", "amount": "5000", "confirmed": "true", "measures": ["freeze"]}
BAD_VALUES = {                          # form values → the field that must be named
    "text_in_a_number": ({"amount": "五千"}, "amount"),
    "text_in_an_integer": ({"copies": "2.5"}, "copies"),
    "integer_out_of_range": ({"copies": "99999999999999999999"}, "copies"),
    "missing_required": ({"debtor_name": ""}, "debtor_name"),
    "too_long_text": ({"note": "长" * 5000}, "note"),
    "wrong_date": ({"filed_on": "2026-02-30"}, "filed_on"),
    "not_a_date": ({"filed_on": "yesterday"}, "filed_on"),
    "not_in_the_enum": ({"kind": "alien"}, "kind"),
    "not_a_boolean": ({"confirmed": "maybe"}, "confirmed"),
    "bad_json_object": ({"extra": "[1, 2"}, "extra"),
}
SHOWN_AS_TYPED = {"amount", "copies", "note", "filed_on", "extra"}         # text inputs; selects show their options


def open_task(engine):
    [task] = [t for t in engine.tasks(case_no=CASE) if t.bpmn_id == "record"]
    return task


@pytest.mark.parametrize("kind", BAD_VALUES)
def test_a_bad_form_value_is_a_field_error_and_the_task_stays_open(app, engine, kind):
    values, field = BAD_VALUES[kind]
    task = open_task(engine)
    clerk = login(app, "lian")
    response = clerk.post(f"/tasks/{task.task_id}", data={"csrf_token": clerk.csrf, "action": "complete",
                                                          **GOOD, **values})
    page = response.get_data(as_text=True)
    assert response.status_code in (400, 422), page[:300]
    assert re.search(rf'data-testid="error-{field}">[^<]+<', page), f"no error shown for {field}"
    assert open_task(engine).task_id == task.task_id          # still open, READY
    if field in SHOWN_AS_TYPED:                                  # what was typed is shown again, nothing lost
        assert values[field] in page


@pytest.mark.parametrize("data, field", [({"amount": "五千"}, "amount"), ({"copies": 2.5}, "copies"),
                                         ({"debtor_name": None}, "debtor_name"), ({"note": "长" * 5000}, "note"),
                                         ({"filed_on": "2026-02-30"}, "filed_on"), ({"measures": "freeze"}, "measures")])
def test_the_api_refuses_bad_form_values_naming_the_field(app, engine, data, field):
    task = open_task(engine)
    token = engine.tokens.create("lian", "hostile", "admin", (), (), None)[1]
    values = {"debtor_name": "张某某", "amount": 5000, "confirmed": True, "measures": ["freeze"], **data}
    response = app.test_client().post(f"/api/v1/tasks/{task.task_id}/complete", json={"data": values},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422 and field in response.json["error"]["fields"], response.json
    assert open_task(engine).task_id == task.task_id


# -- the public lookup (执行公开), login, unknown pages --------------------------------------------------------
@pytest.mark.parametrize("case_no, code", [("garbage", "AAAA-AAAA"), (CASE, "' OR 1=1 --"), ("", ""),
                                           ("执" * 10_000, "A" * 10_000), (CASE, "\x01\x02\u202e"),
                                           ("<script>alert(1)</script>", "x")])
def test_a_garbage_public_lookup_says_not_found(app, engine, case_no, code):
    engine.public_code(CASE)
    client = app.test_client()
    page = client.get("/public").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/public", data={"csrf_token": csrf, "case_no": case_no, "code": code})
    text = response.get_data(as_text=True)
    assert response.status_code == 404 and "案号或查询码不正确" in text
    assert "<script>alert(1)</script>" not in text
    assert client.get("/public/case").status_code == 302           # not let in


@SQLITE_ONLY
@pytest.mark.parametrize("username, password", [("u" * 100_000, "pw"), ("lian", "p" * 100_000),
                                                ("' OR '1'='1", "' OR '1'='1")])
def test_a_hostile_login_is_401_with_the_message(app, username, password):
    client = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": csrf, "username": username, "password": password})
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)


@SQLITE_ONLY
@pytest.mark.parametrize("query", ["next=%ff%fe", "next=\xff\xfe", "%ff=%ff", "next=//evil.example/%ff"])
def test_non_utf8_bytes_in_the_query_string_are_harmless(app, query):
    client = app.test_client()
    raw = {"QUERY_STRING": query}                  # WSGI: the bytes as latin-1 text, as a server passes them
    page = client.get("/login", environ_overrides=raw)
    if "\xff" in query:                         # raw bytes: refused before any view reads them
        assert page.status_code == 400 and "not UTF-8" in page.get_data(as_text=True)
        return
    assert page.status_code == 200 and "csrf_token" in page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/login", environ_overrides=raw,
                           data={"csrf_token": csrf, "username": "lian", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"     # not sent anywhere odd


@SQLITE_ONLY
def test_a_non_utf8_form_body_is_read_as_text_or_refused(app):
    client = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    encoded = client.post("/login", content_type="application/x-www-form-urlencoded",
                          data=f"csrf_token={csrf}&username=%ff%fe&password=%c3%28".encode())
    assert encoded.status_code == 401 and "用户名或密码错误" in encoded.get_data(as_text=True)
    raw = client.post("/login", content_type="application/x-www-form-urlencoded",       # the form cannot be read
                      data=f"csrf_token={csrf}&username=\xff".encode("latin-1"))
    assert raw.status_code == 400 and "CSRF" in raw.get_data(as_text=True)


@SQLITE_ONLY
@pytest.mark.parametrize("path", ["/nowhere", "/tasks/../../etc/passwd", "/design/drafts/99999999999",
                                  "/supervise/instances/2147483648", "/public/case/documents/99999999999",
                                  "/" + "a" * 5000, "/cases/%ff%fe"])
def test_unknown_routes_are_a_404_page(app, path):
    client = login(app, "sheji")
    response = client.get(path)
    assert response.status_code in (403, 404), (path, response.status_code)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and ("页面不存在" in text or "无权访问" in text)


# -- NUL characters: PostgreSQL stores none, so every surface refuses them alike ---------------------------------
def test_a_nul_character_anywhere_is_400_naming_where(app, engine):
    task = open_task(engine)
    clerk = login(app, "lian")
    form = clerk.post(f"/tasks/{task.task_id}", data={"csrf_token": clerk.csrf, "action": "complete", **GOOD,
                                                      "note": "a\x00b"})
    assert form.status_code == 400 and "&#39;note&#39; contains a NUL" in form.get_data(as_text=True)
    assert open_task(engine).task_id == task.task_id
    anonymous = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', anonymous.get("/login").get_data(as_text=True)).group(1)
    login_page = anonymous.post("/login", data={"csrf_token": csrf, "username": "lian\x00", "password": "pw"})
    assert login_page.status_code == 400 and "&#39;username&#39; contains a NUL" in login_page.get_data(as_text=True)
    lookup = anonymous.post("/public", data={"csrf_token": csrf, "case_no": CASE + "\x00", "code": "x"})
    assert lookup.status_code == 400 and "&#39;case_no&#39; contains a NUL" in lookup.get_data(as_text=True)
    assert clerk.get("/cases/%00").status_code == 400
    designer = login(app, "sheji")
    draft = designer.post("/design/drafts", data={"csrf_token": designer.csrf, "process": "case_flow",
                                                  "version": "1"}).headers["Location"]
    saved = designer.post(draft + "/file", json={"name": "case_flow.bpmn", "content": CASE_FLOW + "\x00"},
                          headers={"X-CSRF-Token": designer.csrf})
    assert saved.status_code == 400 and "&#39;content&#39; contains a NUL" in saved.get_data(as_text=True)
    token = {"Authorization": f"Bearer {engine.tokens.create('lian', 'nul', 'admin', (), (), None)[1]}"}
    api = app.test_client()
    filed = api.post("/api/v1/cases", headers=token, json={"process_id": "officer_case", "court": COURT,
                                                           "data": {"applicant_name": "某\x00银行"}})
    assert filed.status_code == 400 and filed.json["error"]["message"].startswith("'data.applicant_name' contains")
    assert api.get("/api/v1/cases?q=%00", headers=token).json["error"]["code"] == "bad_request"
    assert [i.case_no for i in engine.instances_of_case(CASE)] == [CASE]           # nothing new was filed
