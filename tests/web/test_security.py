"""Sign-in and sessions (issue 14, docs/security.md): lockout per account and per address that an administrator
sees and lifts, failed logins in the sign-in log, the login throttle, answers that take as long for an unknown
name as for a known one, sessions that a logout or a password reset ends (copied cookies included), the
``Secure`` cookie over HTTPS, the one safe-redirect check, and API tokens that never exceed their user."""
from __future__ import annotations

import re
import statistics
import time

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from engine.errors import InvalidInput
from engine.store.tables import auth_events, users
from engine.workspaces import lockout
from web import create_app

PASSWORD = "pw-sec-12345"
COURT, FAR = "J0104", "J9999"


@pytest.fixture
def app(engine):
    fast = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    engine.add_user("boss", "系统管理 本院", [(COURT, "admin")], fast)
    engine.add_user("farboss", "系统管理 外院", [(FAR, "admin")], fast)
    engine.add_user("wang", "立案 王", [(COURT, "filing_clerk")], fast)
    return create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "LOGIN_RATE_LIMIT": "1000/minute"})


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def attempt(client, username, password, **kwargs):
    token = csrf_of(client.get("/login", **kwargs).get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}, **kwargs)


def logged_in(app, username):
    client = app.test_client()
    assert attempt(client, username, PASSWORD).status_code == 302
    client.csrf = csrf_of(client.get("/login").get_data(as_text=True))
    return client


def sign_ins(engine, kind=None):
    return engine.executor.read(lambda conn: conn.execute(
        sa.select(auth_events.c.kind, auth_events.c.username, auth_events.c.client)
        .where(*([auth_events.c.kind == kind] if kind else [])).order_by(auth_events.c.id)).all())


# -- lockout, sign-in log --------------------------------------------------------------------------------------
def test_an_account_is_locked_after_five_failures_and_an_administrator_lifts_it(app, engine):
    client = app.test_client()
    for _ in range(lockout.ACCOUNT_LIMIT):
        assert attempt(client, "wang", "wrong").status_code == 401
    refused = attempt(client, "wang", PASSWORD)                 # the right password no longer helps
    assert refused.status_code == 429 and "已暂时锁定" in refused.get_data(as_text=True)
    assert [r.kind for r in sign_ins(engine)] == [lockout.FAILED] * 5 + [lockout.REFUSED]
    assert all(r.username == "wang" and r.client == "127.0.0.1" for r in sign_ins(engine))

    far = logged_in(app, "farboss")                             # wang works in J0104 only: not far's to lift
    assert "wang" not in far.get("/admin/security").get_data(as_text=True).split("lock-list")[1].split("</table>")[0]
    assert far.post("/admin/security/lift", data={"csrf_token": far.csrf, "kind": "account", "key": "wang"}) \
        .status_code == 404
    boss = logged_in(app, "boss")
    page = boss.get("/admin/security").get_data(as_text=True)
    assert 'data-testid="lift-account-wang"' in page and "登录失败" in page
    assert boss.post("/admin/security/lift", data={"csrf_token": boss.csrf, "kind": "account", "key": "wang"}) \
        .status_code == 302
    assert 'data-testid="lift-account-wang"' not in boss.get("/admin/security").get_data(as_text=True)
    assert attempt(app.test_client(), "wang", PASSWORD).status_code == 302
    assert [r.kind for r in sign_ins(engine)][-1] == lockout.OK


def test_the_lock_ends_by_itself_after_the_window(app, engine, clock):
    client = app.test_client()
    for _ in range(lockout.ACCOUNT_LIMIT):
        attempt(client, "wang", "wrong")
    assert attempt(client, "wang", PASSWORD).status_code == 429
    clock.advance(lockout.WINDOW)
    assert attempt(client, "wang", PASSWORD).status_code == 302


def test_an_unknown_name_locks_the_same_way_so_a_lock_reveals_no_account(app, engine):
    client = app.test_client()
    answers = [attempt(client, "nobody", "wrong").status_code for _ in range(lockout.ACCOUNT_LIMIT + 1)]
    assert answers == [401] * lockout.ACCOUNT_LIMIT + [429]


def test_an_address_is_locked_after_twenty_failures_on_any_names(app, engine):
    client = app.test_client()
    for n in range(lockout.ADDRESS_LIMIT):
        assert attempt(client, f"guess{n}", "wrong").status_code == 401
    assert attempt(client, "wang", PASSWORD).status_code == 429           # even a right password, from there
    other = app.test_client()
    assert attempt(other, "wang", PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 302
    boss = app.test_client()                                              # from 127.0.0.1 boss would be refused
    assert attempt(boss, "boss", PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.8"}).status_code == 302
    csrf = csrf_of(boss.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.8"}).get_data(as_text=True))
    assert 'data-testid="lift-address-127.0.0.1"' in boss.get("/admin/security").get_data(as_text=True)
    assert boss.post("/admin/security/lift", data={"csrf_token": csrf, "kind": "address", "key": "127.0.0.1"},
                     environ_base={"REMOTE_ADDR": "10.0.0.8"}).status_code == 302
    assert attempt(client, "wang", PASSWORD).status_code == 302


def test_the_login_throttle_answers_429_after_ten_failures_a_minute(engine):
    engine.add_user("li", "执行 李", [(COURT, "clerk")], generate_password_hash(PASSWORD, method="pbkdf2:sha256:1"))
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})    # the default limit
    client = app.test_client()
    answers = [attempt(client, f"n{i}", "wrong").status_code for i in range(11)]
    assert answers == [401] * 10 + [429]
    assert client.get("/login").status_code == 200                       # the page itself is not limited


def test_an_unknown_name_takes_as_long_as_a_known_one(engine):
    """The default hash method (scrypt), as for the accounts administrators create: on HEAD an unknown name was
    answered in 4 ms, a known one in 131 ms."""
    engine.add_user("zhao", "执行 赵", [(COURT, "clerk")], generate_password_hash(PASSWORD))
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    client = app.test_client()

    def timed(username) -> float:
        token = csrf_of(client.get("/login").get_data(as_text=True))
        start = time.perf_counter()
        assert client.post("/login", data={"username": username, "password": "wrong",
                                           "csrf_token": token}).status_code == 401
        return time.perf_counter() - start

    known = statistics.median(timed("zhao") for _ in range(4))
    unknown = statistics.median(timed(f"ghost{i}") for i in range(4))
    assert 0.5 < unknown / known < 2, (known, unknown)


# -- sessions --------------------------------------------------------------------------------------------------
def copy_of(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_logout_ends_the_session_and_every_copy_of_its_cookie(app, engine):
    wang = logged_in(app, "wang")
    thief = copy_of(app, wang)
    assert thief.get("/").status_code == 200
    assert wang.post("/logout", data={"csrf_token": wang.csrf}).status_code == 302
    assert "/login" in thief.get("/").headers["Location"]
    assert lockout.LOGOUT in [r.kind for r in sign_ins(engine)]


def test_a_password_reset_or_deactivation_ends_the_users_sessions(app, engine):
    wang = logged_in(app, "wang")
    thief = copy_of(app, wang)
    boss = logged_in(app, "boss")
    assert boss.post("/admin/users/wang/password", data={"csrf_token": boss.csrf, "password": "another-pw-1"}) \
        .status_code == 302
    assert "/login" in thief.get("/").headers["Location"]
    assert "/login" in wang.get("/").headers["Location"]
    again = app.test_client()
    assert attempt(again, "wang", "another-pw-1").status_code == 302
    boss.post("/admin/users/wang/active", data={"csrf_token": boss.csrf, "active": "0"})
    assert "/login" in again.get("/").headers["Location"]
    epoch = engine.executor.read(lambda conn: conn.execute(
        sa.select(users.c.session_epoch).where(users.c.username == "wang")).scalar())
    assert epoch == 2


def test_the_session_cookie_is_secure_over_https_also_behind_a_trusted_proxy(engine):
    engine.add_user("wang", "立案 王", [(COURT, "clerk")], generate_password_hash(PASSWORD, method="pbkdf2:sha256:1"))

    def cookie(app, **kwargs) -> str:
        response = attempt(app.test_client(), "wang", PASSWORD, **kwargs)
        assert response.status_code == 302
        return next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("session="))

    direct = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"})
    assert "Secure" in cookie(direct, base_url="https://court.example")
    assert "Secure" not in cookie(direct)
    assert "Secure" not in cookie(direct, headers={"X-Forwarded-Proto": "https"})      # not trusted by default
    proxied = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "PROXY_HOPS": 1})
    assert "Secure" in cookie(proxied, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.2.3"})
    assert sign_ins(engine, lockout.OK)[-1].client == "10.1.2.3"                       # the client, not the proxy
    assert "HttpOnly" in cookie(direct) and "SameSite=Lax" in cookie(direct)


# -- redirects -------------------------------------------------------------------------------------------------
HOSTILE_NEXT = ["/%09/evil.example/", "//evil.example/", "/\\evil.example/", "/%5Cevil.example/",
                "https://evil.example/", "/%0d%0a/evil.example/", "%2F%2Fevil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_never_redirects_off_the_site(app, target):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(f"/login?next={target}", data={"username": "wang", "password": PASSWORD,
                                                          "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/", response.headers["Location"]


def test_login_keeps_a_path_on_the_site(app):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=/cases%3Fq%3D1", data={"username": "wang", "password": PASSWORD,
                                                                "csrf_token": token})
    assert response.headers["Location"] == "/cases?q=1"


@pytest.mark.parametrize("target", ["/\t/evil.example/", "/\\evil.example", "//evil.example"])
def test_every_next_field_uses_the_same_check(app, target):
    """The language switch and the admin's token revoke read ``next`` from the form."""
    boss = logged_in(app, "boss")
    assert boss.post("/language/en", data={"csrf_token": boss.csrf, "next": target}).headers["Location"] == "/"
    token = app.extensions["zhixing"].tokens.create("boss", "t", "boss")[0]
    answer = boss.post(f"/admin/tokens/{token.id}/revoke", data={"csrf_token": boss.csrf, "next": target})
    assert answer.headers["Location"] == "/admin/tokens"


# -- tokens, demo users ----------------------------------------------------------------------------------------
def test_a_token_cannot_grant_roles_or_courts_its_user_does_not_hold(app, engine):
    with pytest.raises(InvalidInput) as roles:
        engine.tokens.create("wang", "x", "cli", roles=("admin",))
    assert "does not hold" in str(roles.value) and "admin" in roles.value.field_errors["roles"]
    with pytest.raises(InvalidInput) as courts:
        engine.tokens.create("wang", "x", "cli", courts=(FAR,))
    assert FAR in courts.value.field_errors["courts"]
    view, _secret = engine.tokens.create("wang", "x", "cli", roles=("filing_clerk",), courts=(COURT,))
    assert view.roles == ("filing_clerk",) and view.courts == (COURT,)


def test_the_token_command_refuses_a_role_the_user_does_not_hold(tmp_path):
    """On HEAD ``zhixing token create`` granted any role and court named on the command line."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'zx.db'}")

    def zhixing(*args):
        return subprocess.run([sys.executable, "-c", "from web.cli import main; main()", *args], env=env,
                              cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120)
    assert zhixing("init").returncode == 0
    assert zhixing("user", "wang", "--name", "立案 王", "--role", "J0104:filing_clerk", "--password", "pw-wang-1") \
        .returncode == 0
    result = zhixing("token", "create", "wang", "--name", "x", "--role", "admin", "--court", "J9999")
    assert result.returncode == 1 and "does not hold the role(s) admin" in result.stderr, result.stderr
    assert "holds no role in J9999" in result.stderr and "Traceback" not in result.stderr


def test_the_demo_users_each_have_their_own_salt_and_hash(engine):
    from tools.demo import USERS, add_demo_users
    add_demo_users(engine)
    hashes = engine.executor.read(lambda conn: conn.execute(
        sa.select(users.c.password_hash).where(users.c.username.in_([u for u, *_ in USERS]))).scalars().all())
    assert len(hashes) == len(USERS) and len(set(hashes)) == len(USERS)
    assert len({h.split("$")[1] for h in hashes}) == len(USERS)                  # the salts differ too


def test_the_sign_in_security_texts_have_english():
    """Every text of the 登录安全 page and of the lockout has its English in web/i18n/security."""
    from pathlib import Path

    from babel.messages.pofile import read_po
    web = Path(__file__).resolve().parents[2] / "web"
    texts = set(re.findall(r"_\('([^']+)'", (web / "templates/admin/security.html").read_text()))
    texts |= {"登录失败次数过多，已暂时锁定：请 15 分钟后再试，或请系统管理员解除锁定", "日期应在 %(first)s 至 %(last)s 之间"}
    texts |= set(re.findall(r'_l?\("([^"]+)"\)', (web / "admin.py").read_text().split("AUTH_KINDS")[1]))
    with (web / "i18n/security/en/LC_MESSAGES/messages.po").open("rb") as po:
        catalogue = {m.id: m.string for m in read_po(po) if m.id}
    texts.discard("用户管理")                                       # the common catalogue's
    assert len(texts) > 20 and sorted(t for t in texts if not catalogue.get(t)) == []


def test_the_security_page_is_in_english_on_request(app):
    boss = logged_in(app, "boss")
    boss.post("/language/en", data={"csrf_token": boss.csrf, "next": "/"})
    page = boss.get("/admin/security").get_data(as_text=True)
    assert "Sign-in security" in page and "Locks in force" in page
