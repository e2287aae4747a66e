"""The REST API (/api/v1): bearer tokens only, role and court checks, JSON errors, and every response checked
against the OpenAPI document it is described by."""
from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import quote, unquote, urlsplit

import pytest
from boundary_diagrams import FILED_HIGHER_REVIEW, FILED_REVIEW, RULE_FORM
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.security import generate_password_hash

from engine.errors import InvalidInput
from web import create_app
from web.api.openapi import DOCUMENT

from testpaths import ENGINE_BPMN

CASE = "（2026）J0104执7号"
REGISTRY = Registry().with_resource("urn:api", Resource.from_contents(DOCUMENT, default_specification=DRAFT202012))
TEMPLATES = [(re.compile("^/api/v1" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in DOCUMENT["paths"]]


def pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def documented_schema(method: str, path: str, status: int) -> str:
    """The JSON pointer (in urn:api) of the schema the document promises for this answer; fails if undocumented."""
    template = next((t for rx, t in TEMPLATES if rx.match(path)), None)
    assert template, f"{path} is not in the OpenAPI document"
    responses = DOCUMENT["paths"][template][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {template} answered {status}, which is not documented"
    answer = responses[str(status)]
    base = answer["$ref"].removeprefix("#/") if "$ref" in answer else \
        pointer("paths", template, method.lower(), "responses", str(status))
    return f"urn:api#/{base}/content/application~1json/schema"


class Api:
    """A test client that sends a token and checks each JSON answer against the OpenAPI document."""

    def __init__(self, client):
        self.client = client

    def __call__(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
        bare = unquote(urlsplit(path).path)
        if any(rx.match(bare) for rx, _t in TEMPLATES) and response.status_code != 405:
            schema = {"$ref": documented_schema(method, bare, response.status_code)}
            OAS31Validator(schema, registry=REGISTRY, format_checker=oas31_format_checker).validate(response.json)
        return response


@pytest.fixture
def app(engine):
    engine.deploy([ENGINE_BPMN])
    engine.add_user("super", "监督 孙", [("J0104", "supervisor")])
    engine.add_user("centre", "指挥中心 刘", [("J0104", "command_centre")])
    engine.add_user("designer", "设计 周", [("J0104", "designer")])
    engine.add_user("clerk", "立案 王", [("J0104", "filing_clerk")], generate_password_hash("pw-clerk"))
    return create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "API_MAX_UPLOAD": 100_000,
                       "API_MESSAGES": {"payment_received": "test payment"}})


@pytest.fixture
def api(app):
    return Api(app.test_client())


@pytest.fixture
def token(engine):
    """``token(user, roles=(), courts=())``: a fresh API token's secret."""
    def make(username: str, roles=(), courts=(), days=None) -> str:
        return engine.tokens.create(username, f"{username} test", "admin", roles, courts, days)[1]
    return make


def file_case(api, token) -> int:
    response = api("POST", "/api/v1/cases", token("clerk"),
                   json={"process_id": "case_flow", "court": "J0104", "case_no": CASE, "data": {"note": "x"}})
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_the_document_is_valid_openapi_and_lists_every_route(app):
    validate(DOCUMENT)
    routes: dict = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule).removeprefix("/api/v1")
            routes.setdefault(path, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    documented = {p: {m.upper() for m in ops} for p, ops in DOCUMENT["paths"].items()}
    assert routes == documented
    assert app.test_client().get("/api/v1/openapi.json").json["openapi"] == "3.1.0"


def test_no_token_or_a_session_cookie_is_401_json(api, app):
    response = api("GET", "/api/v1/me")
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    client = app.test_client()          # a browser logged in to the pages gets nothing from the API
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "clerk", "password": "pw-clerk", "csrf_token": csrf})
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert api("GET", "/api/v1/me", "zx_not-a-token").status_code == 401


def test_revoked_expired_and_deactivated_tokens_stop_working(api, engine, token, clock):
    secret = token("officer")
    assert api("GET", "/api/v1/me", secret).json["username"] == "officer"
    [view] = engine.tokens.list(username="officer")
    engine.tokens.revoke(view.id, "admin")
    assert api("GET", "/api/v1/me", secret).status_code == 401
    short = token("officer", days=1)
    assert api("GET", "/api/v1/me", short).status_code == 200
    clock.advance(timedelta(days=2))
    assert api("GET", "/api/v1/me", short).status_code == 401
    fresh = token("officer")
    engine.admin.set_active("officer", False, ["J0104"], "admin")
    assert api("GET", "/api/v1/me", fresh).status_code == 401


def test_only_the_hash_of_a_token_is_stored(engine, token):
    import sqlalchemy as sa

    from engine.store.tables import api_tokens
    secret = token("officer")
    stored = engine.executor.read(lambda conn: conn.execute(sa.select(api_tokens)).one())
    assert secret not in str(tuple(stored)) and stored.hint == secret[:7]


def test_file_a_case_then_complete_its_task_with_a_field_error_first(api, engine, token):
    instance_id = file_case(api, token)
    clerk = token("clerk")
    tasks = api("GET", "/api/v1/tasks", clerk).json
    assert tasks["total"] == 1 and tasks["items"][0]["bpmn_id"] == "register"
    task_id = tasks["items"][0]["task_id"]
    task = api("GET", f"/api/v1/tasks/{task_id}", clerk).json
    assert task["form"]["required"] == ["debtor", "amount"] and task["case_no"] == CASE
    assert api("POST", f"/api/v1/tasks/{task_id}/claim", clerk).json["claimed_by"] == "clerk"
    bad = api("POST", f"/api/v1/tasks/{task_id}/complete", clerk, json={"data": {"debtor": "张", "amount": 0}})
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"debtor", "amount"}
    # a field the form does not declare (a stage, a dict shaped like a ledger receipt) is refused, named
    forged = api("POST", f"/api/v1/tasks/{task_id}/complete", clerk, json={"data": {
        "debtor": "张三", "amount": 500, "stage": "closed", "receipt": {"receipt_id": "R", "amount": "5000000.00"}}})
    assert forged.status_code == 422 and forged.json["error"]["reason"] == "form.undeclared_field"
    assert set(forged.json["error"]["fields"]) == {"stage", "receipt"}
    done = api("POST", f"/api/v1/tasks/{task_id}/complete", clerk, json={"data": {"debtor": "张三", "amount": 500}})
    assert done.status_code == 200 and done.json["id"] == instance_id
    again = api("POST", f"/api/v1/tasks/{task_id}/complete", clerk, json={"data": {}})
    assert again.status_code == 404
    case = api("GET", "/api/v1/cases/" + quote(CASE), token("officer")).json
    assert case["instances"][0]["id"] == instance_id and case["timeline"][0]["action"] == "instance_started"
    detail = api("GET", f"/api/v1/instances/{instance_id}", token("super")).json
    assert detail["case_no"] == CASE
    listed = api("GET", "/api/v1/instances?per_page=1", token("super")).json
    assert listed["total"] == 1 and listed["items"][0]["id"] == instance_id
    assert api("GET", "/api/v1/cases?q=执7", token("officer")).json["items"][0]["case_no"] == CASE


def test_filing_needs_the_filing_role_in_that_court_and_valid_fields(api, token):
    assert api("POST", "/api/v1/cases", token("officer"),
               json={"process_id": "case_flow", "court": "J0104"}).status_code == 403
    assert api("POST", "/api/v1/cases", token("clerk"),
               json={"process_id": "case_flow", "court": "J9999"}).status_code == 403
    missing = api("POST", "/api/v1/cases", token("clerk"), json={"court": "J0104", "data": []})
    assert missing.status_code == 422 and set(missing.json["error"]["fields"]) == {"process_id", "data"}
    unknown = api("POST", "/api/v1/cases", token("clerk"), json={"process_id": "nothing", "court": "J0104"})
    assert unknown.status_code == 404
    not_json = api("POST", "/api/v1/cases", token("clerk"), data="x", content_type="text/plain")
    assert not_json.status_code == 400 and not_json.json["error"]["code"] == "bad_request"


def test_a_token_narrower_than_its_user_sees_and_does_only_its_part(api, token, engine):
    file_case(api, token)
    narrow = token("officer", roles=["panel_member"])
    assert api("GET", "/api/v1/me", narrow).json["grants"] == [{"court": "J0104", "role": "panel_member"}]
    assert api("GET", "/api/v1/tasks", narrow).json["total"] == 0
    clerk_task = api("GET", "/api/v1/tasks", token("clerk")).json["items"][0]["task_id"]
    assert api("GET", f"/api/v1/tasks/{clerk_task}", narrow).status_code == 404
    with pytest.raises(InvalidInput):                  # a token never reaches past its user (issue 14)
        token("officer", courts=["J9999"])
    elsewhere = token("officer", courts=["J0104"])
    engine.add_user("officer", "执行 李", [("J9999", "implementation_officer")])   # J0104's roles taken away
    assert api("GET", "/api/v1/tasks", elsewhere).status_code == 403      # no role at all in that scope


def test_another_courts_user_gets_no_data(api, token):
    instance_id = file_case(api, token)
    outsider = token("outsider")
    assert api("GET", "/api/v1/cases", outsider).json["items"] == []
    assert api("GET", "/api/v1/instances", outsider).json["items"] == []
    assert api("GET", "/api/v1/tasks", outsider).json["items"] == []
    assert api("GET", "/api/v1/cases/" + quote(CASE), outsider).status_code == 404
    assert api("GET", f"/api/v1/instances/{instance_id}", outsider).status_code == 404
    clerk_task = api("GET", "/api/v1/tasks", token("clerk")).json["items"][0]["task_id"]
    for path in (f"/api/v1/tasks/{clerk_task}",):
        assert api("GET", path, outsider).status_code == 404
    for verb in ("claim", "unclaim", "complete"):
        assert api("POST", f"/api/v1/tasks/{clerk_task}/{verb}", outsider, json={"data": {}}).status_code == 404
    message = api("POST", "/api/v1/messages", outsider, json={"name": "payment_received", "case_no": CASE})
    assert message.status_code == 404


@pytest.mark.parametrize("method, path, who", [
    ("GET", "/api/v1/incidents", "officer"), ("POST", "/api/v1/incidents/1/retry", "officer"),
    ("GET", "/api/v1/metrics?court=J0104", "officer"), ("GET", "/api/v1/cases", "designer"),
    ("GET", "/api/v1/instances", "designer"), ("GET", "/api/v1/tasks", "super"),
    ("POST", "/api/v1/messages", "designer"), ("POST", "/api/v1/definitions", "officer"),
])
def test_each_route_refuses_a_token_without_its_role(api, token, method, path, who):
    body = {"name": "payment_received", "case_no": CASE, "court": "J0104"} if "messages" in path else None
    response = api(method, path, token(who), json=body)
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"


def test_messages_are_correlated_and_only_external_names_are_accepted(api, engine, token):
    instance_id = file_case(api, token)
    officer = token("officer")
    wrong = api("POST", "/api/v1/messages", officer, json={"name": "objection_ruling", "case_no": CASE})
    assert wrong.status_code == 422 and "name" in wrong.json["error"]["fields"]
    kept = api("POST", "/api/v1/messages", officer, json={"name": "payment_received", "case_no": CASE,
                                                           "payload": {"amount": 5}})
    assert kept.status_code == 200 and kept.json["status"] in ("unmatched", "delivered")
    # a case that does not exist yet: the sender's court is the token's only officer court
    nowhere = api("POST", "/api/v1/messages", officer, json={"name": "payment_received", "case_no": "（2026）新1号"})
    assert nowhere.status_code == 200 and nowhere.json["status"] == "unmatched"
    assert [m.court for m in engine.inbox()][-1] == "J0104"
    engine.add_user("both", "两院 钱", [("J0104", "implementation_officer"), ("J9999", "implementation_officer")])
    which = api("POST", "/api/v1/messages", token("both"), json={"name": "payment_received", "case_no": "（2026）新2号"})
    assert which.status_code == 422 and which.json["error"]["fields"] == {"court": "required"}
    assert engine.instance(instance_id).case_no == CASE


def test_incidents_are_listed_and_retried_by_supervisors_of_the_court(api, engine, token, handler_log):
    handler_log.reject = True           # the notification service refuses: an incident at once
    file_case(api, token)
    clerk = token("clerk")
    task_id = api("GET", "/api/v1/tasks", clerk).json["items"][0]["task_id"]
    api("POST", f"/api/v1/tasks/{task_id}/complete", clerk, json={"data": {"debtor": "张三", "amount": 500}})
    engine.run_until_idle()
    incidents = api("GET", "/api/v1/incidents", token("super")).json
    assert incidents["total"] == 1 and incidents["items"][0]["case_no"] == CASE
    job_id = incidents["items"][0]["id"]
    assert api("POST", f"/api/v1/incidents/{job_id}/retry", token("outsider")).status_code == 403
    engine.add_user("far", "外院监督", [("J9999", "supervisor")])
    assert api("POST", f"/api/v1/incidents/{job_id}/retry", token("far")).status_code == 404
    assert api("GET", "/api/v1/incidents", token("far")).json["items"] == []
    retried = api("POST", f"/api/v1/incidents/{job_id}/retry", token("centre"))
    assert retried.status_code == 200 and retried.json["status"] == "ready"


def test_designers_deploy_files_and_see_validation_problems(api, token):
    designer = token("designer")
    files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(ENGINE_BPMN.iterdir())]
    same = api("POST", "/api/v1/definitions", designer, data={"files": files}, content_type="multipart/form-data")
    assert same.status_code == 201 and {d["created"] for d in same.json["items"]} == {False}
    broken = api("POST", "/api/v1/definitions", designer, content_type="multipart/form-data",
                 data={"files": [(io.BytesIO(b"<bpmn:definitions"), "broken.bpmn")]})
    assert broken.status_code == 422 and broken.json["error"]["code"] == "invalid_definition"
    assert broken.json["error"]["fields"]
    bad_name = api("POST", "/api/v1/definitions", designer, content_type="multipart/form-data",
                   data={"files": [(io.BytesIO(b"x"), "run.sh")]})
    assert bad_name.status_code == 422
    listed = api("GET", "/api/v1/definitions", designer).json["items"]
    assert "case_flow" in {p["process_id"] for p in listed}


def test_metrics_for_supervisors_of_the_court(api, token):
    response = api("GET", "/api/v1/metrics?court=J0104&from=2026-01-01&to=2026-03-31", token("super"))
    assert response.status_code == 200 and response.json["court"] == "J0104"
    assert api("GET", "/api/v1/metrics?court=J9999", token("super")).status_code == 403
    bad = api("GET", "/api/v1/metrics?court=J0104&from=March", token("super"))
    assert bad.status_code == 400 and "from" in bad.json["error"]["fields"]


def test_http_errors_under_the_api_are_json_never_html(api, token):
    assert api("GET", "/api/v1/no/such/thing", token("officer")).json["error"]["code"] == "not_found"
    wrong_method = api("DELETE", "/api/v1/me", token("officer"))
    assert wrong_method.status_code == 405 and wrong_method.json["error"]["code"] == "method_not_allowed"
    big = api("POST", "/api/v1/definitions", token("designer"), content_type="multipart/form-data",
              data={"files": [(io.BytesIO(b"x" * 200_000), "big.bpmn")]})
    assert big.status_code == 413 and big.json["error"]["code"] == "too_large"
    paging = api("GET", "/api/v1/tasks?per_page=1000", token("officer"))
    assert paging.status_code == 400


def test_a_crash_is_a_json_500_without_details(engine, token):
    app = create_app({"ENGINE": engine, "SECRET_KEY": "test"})     # not TESTING: the 500 handler answers

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret detail")
    crash = app.test_client().get("/api/v1/boom", headers={"Authorization": f"Bearer {token('officer')}"})
    assert crash.status_code == 500 and crash.json["error"]["code"] == "internal"
    assert "secret detail" not in crash.get_data(as_text=True)


# -- court boundaries (issue 11 part 7) ---------------------------------------------------------------------------
JINJIANG, QINGYANG, CHENGDU = "川0104", "川0105", "川01"
MAIN = "（2026）川0104执1号"


@pytest.fixture
def courts_api(engine):
    """Two sibling basic courts under 成都中院, their clerks, officers and judges; objections may be sent."""
    engine.deploy([ENGINE_BPMN])
    engine.deploy({"filed_review.bpmn": FILED_REVIEW, "filed_higher_review.bpmn": FILED_HIGHER_REVIEW, **RULE_FORM})
    engine.add_court("川", "四川省高级人民法院", "high")
    engine.add_court(CHENGDU, "成都市中级人民法院", "intermediate", "川")
    engine.add_court(JINJIANG, "成都市锦江区人民法院", "basic", CHENGDU)
    engine.add_court(QINGYANG, "成都市青羊区人民法院", "basic", CHENGDU)
    for court, who in ((JINJIANG, "jj"), (QINGYANG, "qy"), (CHENGDU, "cd")):
        engine.add_user(f"{who}_clerk", f"立案 {who}", [(court, "filing_clerk")])
        engine.add_user(f"{who}_officer", f"执行 {who}", [(court, "implementation_officer")])
        engine.add_user(f"{who}_judge", f"审查 {who}", [(court, "review_judge")])
    engine.add_user("jj_both", "兼任 钱", [(JINJIANG, "filing_clerk"), (JINJIANG, "review_judge")])
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test",
                      "API_MESSAGES": {"payment_received": "test payment", "objection_filed": "test objection"}})
    return Api(app.test_client())


def test_api_a_message_stays_inside_the_senders_court(courts_api, engine, token):
    api = courts_api
    filed = api("POST", "/api/v1/cases", token("jj_clerk"), json={"process_id": "case_flow", "court": JINJIANG,
                                                                  "case_no": MAIN, "data": {"applicant": "甲公司"}})
    assert filed.status_code == 201
    qy = token("qy_officer")
    pay = {"name": "payment_received", "payload": {"amount": 80000}}
    assert api("POST", "/api/v1/messages", qy, json={**pay, "case_no": MAIN}).status_code == 404
    # the court in the body is never the sender's: it must be one of the token's own courts
    claimed = api("POST", "/api/v1/messages", qy, json={**pay, "case_no": MAIN, "court": JINJIANG})
    assert claimed.status_code == 404
    early = api("POST", "/api/v1/messages", qy, json={**pay, "case_no": "（2026）川0104执2号", "court": JINJIANG})
    assert early.status_code == 403 and early.json["error"]["reason"] == "message.court_not_granted"
    # kept in the inbox for 川0105 until the 川0104 case is filed: refused at once instead
    forged = api("POST", "/api/v1/messages", qy, json={**pay, "case_no": "（2026）川0104执2号"})
    assert forged.status_code == 403 and forged.json["error"]["reason"] == "message.foreign_court"
    assert engine.inbox() == []
    # an objection case of 川0105's own whose diagram throws the payment to 川0104执2号: kept for 川0105 only
    started = api("POST", "/api/v1/messages", qy, json={"name": "objection_filed", "case_no": "（2026）川0105执9号",
                                                       "payload": {"main_case": "（2026）川0104执2号"}})
    assert started.status_code == 200 and started.json["status"] == "started"
    [rule] = engine.tasks(instance_id=started.json["instance_ids"][0])
    assert api("POST", f"/api/v1/tasks/{rule.task_id}/complete", token("qy_judge"),
               json={"data": {}}).status_code == 200
    engine.run_until_idle()
    [kept] = engine.inbox()
    assert (kept.correlation_key, kept.court, kept.sender_case) == ("（2026）川0104执2号", QINGYANG, "（2026）川0105执9号")
    own = api("POST", "/api/v1/messages", token("jj_officer"), json={**pay, "case_no": "（2026）川0104执2号"})
    assert own.status_code == 200 and own.json["status"] == "unmatched"
    assert [m.court for m in engine.inbox()] == [QINGYANG, JINJIANG]


def test_api_a_foreign_case_number_is_refused(courts_api, token):
    api, clerk = courts_api, token("qy_clerk")
    case = {"process_id": "case_flow", "court": QINGYANG, "data": {"applicant": "甲公司"}}
    foreign = api("POST", "/api/v1/cases", clerk, json={**case, "case_no": MAIN})
    assert foreign.status_code == 422 and foreign.json["error"]["reason"] == "case_no.foreign_court"
    assert foreign.json["error"]["fields"] == {"case_no": "foreign_court"}
    assert "case_no" in foreign.json["error"]["message"]
    free = api("POST", "/api/v1/cases", clerk, json={**case, "case_no": "执1号"})
    assert free.status_code == 422 and free.json["error"]["reason"] == "case_no.format"
    elsewhere = api("POST", "/api/v1/cases", clerk, json={**case, "court": JINJIANG, "case_no": MAIN})
    assert elsewhere.status_code == 403
    ours = api("POST", "/api/v1/cases", clerk, json={**case, "case_no": "（2026）川0105执1号"})
    assert ours.status_code == 201
    again = api("POST", "/api/v1/cases", clerk, json={**case, "case_no": "（2026）川0105执1号"})
    assert again.status_code == 422 and again.json["error"]["reason"] == "case_no.taken"


def test_api_separation_of_duties_follows_the_recorded_relation_not_case_data(courts_api, engine, token):
    api = courts_api
    main = api("POST", "/api/v1/cases", token("jj_clerk"), json={"process_id": "case_flow", "court": JINJIANG,
                                                                 "case_no": MAIN}).json
    [register] = engine.tasks(instance_id=main["id"])
    both = token("jj_both")          # registers the enforcement case, then is asked to rule on the review
    assert api("POST", f"/api/v1/tasks/{register.task_id}/complete", both,
               json={"data": {"debtor": "乙公司", "amount": 10}}).status_code == 200
    review = {"process_id": "filed_review", "court": JINJIANG, "data": {"objection": {"main_case": MAIN}}}
    in_data = api("POST", "/api/v1/cases", token("jj_clerk"),
                  json={**review, "data": {**review["data"], "related_case_no": MAIN}})
    assert in_data.status_code == 422 and "data.related_case_no" in in_data.json["error"]["fields"]
    unlinked = api("POST", "/api/v1/cases", token("jj_clerk"), json=review)
    assert unlinked.status_code == 422 and unlinked.json["error"]["reason"] == "relation.required"
    sibling = api("POST", "/api/v1/cases", token("qy_clerk"), json={**review, "court": QINGYANG,
                                                                    "related_case_no": MAIN})
    assert sibling.status_code == 403 and sibling.json["error"]["reason"] == "relation.foreign_court"
    linked = api("POST", "/api/v1/cases", token("jj_clerk"), json={**review, "related_case_no": MAIN})
    assert linked.status_code == 201 and linked.json["case_no"] == "（2026）川0104执异1号"
    [rule] = engine.tasks(instance_id=linked.json["id"])
    barred = api("POST", f"/api/v1/tasks/{rule.task_id}/complete", both, json={"data": {}})
    assert barred.status_code == 403 and barred.json["error"]["reason"] == "sod.excluded"
    assert api("POST", f"/api/v1/tasks/{rule.task_id}/complete", token("jj_judge"),
               json={"data": {}}).status_code == 200
    higher = api("POST", "/api/v1/cases", token("cd_clerk"), json={**review, "process_id": "filed_higher_review",
                                                                   "court": CHENGDU, "related_case_no": MAIN})
    assert higher.status_code == 201 and higher.json["case_no"] == "（2026）川01执复1号"
    case = api("GET", f"/api/v1/cases/{quote(MAIN)}", token("jj_officer")).json
    assert "（2026）川0104执异1号" in str(case["related"]) and "川01执复1号" not in str(case["related"])
