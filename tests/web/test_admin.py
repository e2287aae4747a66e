"""Administration: accounts and API tokens, each administrator within their own courts."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from engine.store.tables import users
from web import create_app

PASSWORD = "pw-admin-1"


@pytest.fixture
def app(engine):
    engine.add_user("boss", "系统管理 本院", [("J0104", "admin")], generate_password_hash(PASSWORD))
    engine.add_user("farboss", "系统管理 外院", [("J9999", "admin")], generate_password_hash(PASSWORD))
    engine.add_user("both", "两院 执行", [("J0104", "clerk"), ("J9999", "clerk")], generate_password_hash(PASSWORD))
    return create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def logged_in(app, username: str, password: str = PASSWORD):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, f"{username} could not log in"
    client.csrf = csrf_of(client.get("/admin/users" if username.endswith("boss") else "/login")
                          .get_data(as_text=True))
    return client


def test_admin_pages_need_the_admin_role(app):
    anonymous = app.test_client()
    assert "/login" in anonymous.get("/admin/users").headers["Location"]
    clerk = logged_in(app, "both")
    for path in ("/admin/users", "/admin/users/clerk", "/admin/tokens"):
        assert clerk.get(path).status_code == 403
    assert clerk.post("/admin/users", data={"csrf_token": clerk.csrf, "username": "x"}).status_code == 403


def test_an_administrator_sees_only_the_users_of_their_courts(app):
    boss, far = logged_in(app, "boss"), logged_in(app, "farboss")
    def listed(client) -> set[str]:
        return set(re.findall(r'href="/admin/users/([^"/]+)"', client.get("/admin/users").get_data(as_text=True)))
    assert listed(boss) == {"boss", "both", "clerk", "officer", "panel", "judge"}
    assert listed(far) == {"farboss", "both", "outsider"}
    mine = boss.get("/admin/users").get_data(as_text=True)
    assert far.get("/admin/users/officer").status_code == 404
    assert far.post("/admin/users/officer/active", data={"csrf_token": far.csrf, "active": "0"}).status_code == 404
    assert "另在 J9999 任职" in mine                    # 'both' works in two courts


def test_create_a_user_with_field_errors_first_then_log_in(app, engine):
    boss = logged_in(app, "boss")
    bad = boss.post("/admin/users", data={"csrf_token": boss.csrf, "username": "Bad Name", "display_name": "",
                                          "password": "short"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    for name in ("username", "display_name", "password", "roles"):
        assert f'data-testid="error-{name}"' in page, name
    assert boss.post("/admin/users", data={"csrf_token": boss.csrf, "username": "newbie", "display_name": "新人",
                                           "password": "long-enough", "grant": "J9999|clerk"}).status_code == 400
    ok = boss.post("/admin/users", data={"csrf_token": boss.csrf, "username": "newbie", "display_name": "新人",
                                         "password": "long-enough", "grant": ["J0104|clerk", "J0104|filing_clerk"]})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/admin/users/newbie")
    assert engine.roles_of("newbie") == [("J0104", "clerk"), ("J0104", "filing_clerk")]
    stored = engine.executor.read(lambda conn: conn.execute(
        sa.select(users.c.password_hash).where(users.c.username == "newbie")).scalar())
    assert "long-enough" not in stored
    logged_in(app, "newbie", "long-enough")
    taken = boss.post("/admin/users", data={"csrf_token": boss.csrf, "username": "newbie", "display_name": "x",
                                            "password": "long-enough", "grant": "J0104|clerk"})
    assert taken.status_code == 422 and "taken" in taken.get_data(as_text=True)


def test_roles_are_changed_in_the_administrators_courts_only(app, engine):
    boss = logged_in(app, "boss")
    boss.post("/admin/users/both/roles", data={"csrf_token": boss.csrf, "grant": "J0104|review_judge"})
    assert engine.roles_of("both") == [("J0104", "review_judge"), ("J9999", "clerk")]


def test_deactivating_stops_login_and_tokens_but_not_for_users_of_other_courts(app, engine):
    boss = logged_in(app, "boss")
    engine.add_user("temp", "临时", [("J0104", "clerk")], generate_password_hash(PASSWORD))
    secret = engine.tokens.create("temp", "sync", "boss", courts=["J0104"])[1]
    api = app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    boss.post("/admin/users/temp/active", data={"csrf_token": boss.csrf, "active": "0"})
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    client = app.test_client()
    login = client.post("/login", data={"username": "temp", "password": PASSWORD,
                                        "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))})
    assert login.status_code == 401
    refused = boss.post("/admin/users/both/active", data={"csrf_token": boss.csrf, "active": "0"},
                        follow_redirects=True)
    assert "J9999" in refused.get_data(as_text=True)
    logged_in(app, "both")
    boss.post("/admin/users/temp/active", data={"csrf_token": boss.csrf, "active": "1"})
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_a_password_reset_needs_a_long_password(app):
    boss = logged_in(app, "boss")
    assert boss.post("/admin/users/clerk/password", data={"csrf_token": boss.csrf, "password": "x"}).status_code == 422
    boss.post("/admin/users/clerk/password", data={"csrf_token": boss.csrf, "password": "brand-new-pw"})
    logged_in(app, "clerk", "brand-new-pw")


def test_a_token_is_shown_once_works_within_its_scope_and_can_be_revoked(app, engine):
    boss = logged_in(app, "boss")
    missing = boss.post("/admin/users/both/tokens", data={"csrf_token": boss.csrf, "name": "x"})
    assert missing.status_code == 422 and 'data-testid="error-court"' in missing.get_data(as_text=True)
    created = boss.post("/admin/users/both/tokens", data={"csrf_token": boss.csrf, "name": "案件同步",
                                                          "court": ["J0104", "J9999"], "days": "30"})
    secret = re.search(r'data-testid="token-secret">(zx_[^<]+)<', created.get_data(as_text=True)).group(1)
    assert secret not in boss.get("/admin/users/both").get_data(as_text=True)
    assert secret not in boss.get("/admin/tokens").get_data(as_text=True)
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json
    assert me["grants"] == [{"court": "J0104", "role": "clerk"}]      # not J9999: not the administrator's court
    [view] = engine.tokens.list(username="both")
    far = logged_in(app, "farboss")
    assert far.post(f"/admin/tokens/{view.id}/revoke", data={"csrf_token": far.csrf}).status_code == 302
    assert engine.tokens.get(view.id).revoked_at is not None      # 'both' works in J9999 too: its admin may revoke
    engine.add_user("solo", "本院", [("J0104", "clerk")])
    solo = engine.tokens.create("solo", "x", "boss", courts=["J0104"])[0]
    assert far.post(f"/admin/tokens/{solo.id}/revoke", data={"csrf_token": far.csrf}).status_code == 404
    boss.post(f"/admin/tokens/{solo.id}/revoke", data={"csrf_token": boss.csrf})
    assert engine.tokens.get(solo.id).revoked_at is not None
    assert "已吊销" in boss.get("/admin/tokens").get_data(as_text=True)


def test_the_token_command_creates_lists_and_revokes(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'zx.db'}")

    def zhixing(*args):
        return subprocess.run([sys.executable, "-c", "from web.cli import main; main()", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)
    assert zhixing("init").returncode == 0
    assert zhixing("user", "sync", "--name", "同步", "--role", "J0104:clerk", "--password", "pw-sync-1").returncode == 0
    created = zhixing("token", "create", "sync", "--name", "案件同步", "--court", "J0104", "--days", "90")
    assert created.returncode == 0 and created.stdout.startswith("zx_") and "shown this once" in created.stderr
    listed = zhixing("token", "list").stdout
    assert "案件同步" in listed and "active" in listed and created.stdout.strip() not in listed
    assert "revoked" in zhixing("token", "revoke", "1").stdout
    assert "revoked" in zhixing("token", "list", "--user", "sync").stdout
    unknown = zhixing("token", "create", "nobody", "--name", "x")
    assert unknown.returncode == 1 and unknown.stderr.startswith("error: user 'nobody' does not exist")
