"""Schemathesis against the REST API in-process: every operation of /api/v1/openapi.json, valid and invalid
data, with a token of a user who holds every role, then with no token and a bad one. No answer may be a 500,
and every answer must be one the document describes (status, content type, schema)."""
from __future__ import annotations

import copy

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from werkzeug.security import generate_password_hash

from engine.court.roles import ROLES
from web import create_app
from web.api.openapi import DOCUMENT

from testpaths import ENGINE_BPMN

EXAMPLES = 12            # per operation and generation mode: the whole file stays well under a minute
CASE = "（2026）J0104执7号"


def config(**checks) -> SchemathesisConfig:
    """Reproducible generation (fixed seed, derandomized, no example database left in the work tree)."""
    return SchemathesisConfig.from_dict({
        "seed": 20260302, "warnings": False,
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True, "database": "none",
                       "allow-x00": True},
        "phases": {"stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in checks}},
    })


@pytest.fixture
def app(engine):
    engine.deploy([ENGINE_BPMN])
    engine.add_user("root", "全权 测试", [("J0104", role) for role in ROLES], generate_password_hash("pw-root"))
    engine.start("case_flow", CASE, "J0104", {"note": "fuzz"})
    return create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "API_MAX_UPLOAD": 100_000})


@pytest.fixture
def root_token(engine) -> str:
    return engine.tokens.create("root", "fuzz", "admin", (), (), None)[1]


# the document the app serves (test_the_served_document_is_the_one_fuzzed); loaded at collection so that each
# operation is a test of its own (schemathesis' fixture-based loader does not run on pytest 9.2)
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=config(
    not_a_server_error=1, status_code_conformance=1, content_type_conformance=1, response_schema_conformance=1))
anonymous = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=config(not_a_server_error=1)) \
    .exclude(path="/openapi.json")


def test_the_served_document_is_the_one_fuzzed(app):
    assert app.test_client().get("/api/v1/openapi.json").json == DOCUMENT


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])     # the app is made once per test
def test_every_operation_with_a_token_of_every_role(case, app, root_token):
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {root_token}"})


@pytest.fixture
def bare_app(engine):
    """Nothing deployed: a request without a valid token never gets past authentication."""
    return create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})


@anonymous.parametrize()
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)          # authentication reads one token row
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_without_a_valid_token_every_operation_is_401(case, bare_app):
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    for authorization in (None, "Bearer zx_not-a-token", "Basic cm9vdDpwdy1yb290", "Bearer " + "x" * 5000):
        response = case.call_and_validate(app=bare_app, headers={"Authorization": authorization} if authorization
                                          else {})
        if case.method.upper() != case.operation.method.upper():     # TRACE, OPTIONS...: refused either way
            assert response.status_code in (401, 405), (case.method, response.status_code)
            continue
        if response.status_code == 404:          # /instances/null: no route matches, before any authentication
            assert response.json()["error"]["message"].startswith("no such API resource"), response.text
            continue
        assert response.status_code == 401, (authorization, response.status_code, response.text[:300])
        assert response.json()["error"]["code"] == "unauthorized"


# -- what the fuzzer found, as plain regression tests -----------------------------------------------------------
def test_an_id_larger_than_the_database_holds_is_404_not_500(app, root_token):
    """/instances/2147483648 overflowed PostgreSQL's INTEGER (and 2**63 SQLite's): a 500."""
    client, auth = app.test_client(), {"Authorization": f"Bearer {root_token}"}
    for method, path in [("GET", "/api/v1/instances/2147483648"), ("GET", "/api/v1/instances/9223372036854775808"),
                         ("POST", "/api/v1/incidents/2147483648/retry")]:
        response = client.open(path, method=method, headers=auth)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found", path
    assert client.get("/api/v1/instances/2147483647", headers=auth).status_code == 404   # the largest id: looked up


def test_a_message_name_that_is_not_text_is_422_naming_the_field(app, root_token):
    """``{"name": {}}`` was looked up in a dict of names: TypeError, a 500."""
    response = app.test_client().post("/api/v1/messages", headers={"Authorization": f"Bearer {root_token}"},
                                      json={"name": {}, "case_no": CASE})
    assert response.status_code == 422 and "name" in response.json["error"]["fields"]


def test_a_nul_character_is_a_documented_400_on_every_operation(app, root_token):
    """A NUL in a path parameter (/cases/%00) is refused before the database sees it (PostgreSQL stores none)."""
    response = app.test_client().get("/api/v1/cases/%00", headers={"Authorization": f"Bearer {root_token}"})
    assert response.status_code == 400 and "NUL" in response.json["error"]["message"]
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            assert path == "/openapi.json" or "400" in operation["responses"], (method, path)
