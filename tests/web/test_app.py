"""The minimal web app: login with CSRF, role-filtered task list, no stack traces."""
from __future__ import annotations

import re

import pytest
from werkzeug.security import generate_password_hash

from testpaths import ENGINE_BPMN
from web import create_app


@pytest.fixture
def client(engine):
    engine.deploy([ENGINE_BPMN])
    engine.add_user("clerk", "立案 王", [("J0104", "filing_clerk")], generate_password_hash("pw-clerk"))
    engine.start("case_flow", "（2026）川0104执7号", "J0104")
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    return app.test_client()


def csrf(client, path="/login"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_pages_need_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_without_csrf_is_refused(client):
    assert client.post("/login", data={"username": "clerk", "password": "pw-clerk"}).status_code == 400


def test_wrong_password_then_login_shows_my_tasks(client):
    token = csrf(client)
    bad = client.post("/login", data={"username": "clerk", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401 and "密码错误" in bad.get_data(as_text=True)
    ok = client.post("/login", data={"username": "clerk", "password": "pw-clerk", "csrf_token": token})
    assert ok.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "（2026）川0104执7号" in page and "Register the application" in page
    assert client.get("/").headers["X-Frame-Options"] == "DENY"


def test_unknown_page_is_a_page_not_a_trace(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "Traceback" not in response.get_data(as_text=True)
