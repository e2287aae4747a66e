"""The minimal web app: login with CSRF, role-filtered task list, no stack traces."""
from __future__ import annotations

import re

import pytest
from werkzeug.security import generate_password_hash

from web import create_app

from testpaths import ENGINE_BPMN


@pytest.fixture
def client(engine):
    engine.deploy([ENGINE_BPMN])
    engine.add_user("clerk", "立案 王", [("J0104", "filing_clerk")], generate_password_hash("pw-clerk"))
    engine.start("case_flow", "（2026）J0104执7号", "J0104")
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
    assert "（2026）J0104执7号" in page and "Register the application" in page
    assert client.get("/").headers["X-Frame-Options"] == "DENY"


def test_unknown_page_is_a_page_not_a_trace(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "Traceback" not in response.get_data(as_text=True)


def test_a_read_only_install_without_compiled_catalogues_still_starts_in_english(engine, tmp_path, monkeypatch):
    """The .mo files are made at install time; an app that finds none and cannot write compiles its own copy."""
    import shutil

    from web import i18n

    root = tmp_path / "i18n"
    shutil.copytree(i18n.ROOT, root, ignore=shutil.ignore_patterns("*.mo"))
    compile_for_real = i18n.compile_catalogues

    def read_only_in_place(source=root, target=None):
        if target is None:
            raise PermissionError(f"{source}: read-only file system")
        compile_for_real(source, target)

    monkeypatch.setattr(i18n, "ROOT", root)
    monkeypatch.setattr(i18n, "compile_catalogues", read_only_in_place)
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    assert i18n.stale_catalogues(root) and not list(root.rglob("*.mo"))     # nothing written into the install
    client = app.test_client()
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get("/login").get_data(as_text=True)
    assert "User name" in page and "用户名" not in page


def test_the_favicon_is_served_to_anyone(client):
    """Browsers ask for /favicon.ico on every page; it was a 404 in every server log."""
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml" and b"<svg" in response.data
