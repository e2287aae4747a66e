"""Directory login (统一身份认证) against a real OpenLDAP server: Debian's slapd, started here on loopback with a
court's people and groups; login through the Flask app, the roles each group gives per court, wrong passwords,
the directory going away, and user names written to break out of the LDAP filter."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import ldap3
import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from engine.court.directory import DirectoryConfigError, load_mapping, settings_from
from engine.store.tables import office_events, users
from web import create_app

from support import slapd as ldap

pytestmark = pytest.mark.skipif(ldap.missing() is not None, reason=ldap.missing() or "")

BASE = ldap.SUFFIX
SERVICE_DN, SERVICE_PW = f"cn=zhixing,ou=services,{BASE}", "service-secret"
PASSWORDS = {"zhang.san": "zs-pass-1", "li.si": "ls-pass-1", "wang.wu": "ww-pass-1", "boss": "directory-boss-1",
             "zhao.liu": "zl-pass-1", "old.chen": "oc-pass-1"}
WRONG = "用户名或密码错误"
DOWN = "统一身份认证暂时无法连接"
NO_ROLE = "没有本系统的角色"


def person(uid: str, cn: str, display: str | None = None, ou: str = "ou=people") -> str:
    return textwrap.dedent(f"""\
        dn: uid={uid},{ou},{BASE}
        objectClass: inetOrgPerson
        uid: {uid}
        cn: {cn}
        sn: {cn[0]}
        """) + (f"displayName: {display}\n" if display else "") + f"userPassword: {ldap.ssha(PASSWORDS[uid])}\n\n"


def group(cn: str, *uids: str) -> str:
    return (f"dn: cn={cn},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: {cn}\n"
            + "".join(f"member: {u if '=' in u else f'uid={u},ou=people'},{BASE}\n" for u in uids) + "\n")


LDIF = (f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: court\no: 成华区人民法院\n\n"
        + "".join(f"dn: ou={ou},{BASE}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
                  for ou in ("people", "groups", "services"))
        + f"dn: {SERVICE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: zhixing\n"
          f"userPassword: {ldap.ssha(SERVICE_PW)}\n\n"
        + person("zhang.san", "张三", "张三（执行局）") + person("li.si", "李四") + person("wang.wu", "王五")
        + person("boss", "冒名 管理员") + person("zhao.liu", "赵六")
        # retired staff are kept below ou=people; a bind DN template 'uid={username},ou=people,…' leaves them out
        + f"dn: ou=retired,ou=people,{BASE}\nobjectClass: organizationalUnit\nou: retired\n\n"
        + person("old.chen", "陈老", ou="ou=retired,ou=people")
        + group("zhixing-j0104-officers", "zhang.san", "zhao.liu", "uid=old.chen,ou=retired,ou=people")
        + group("zhixing-j0104-clerks", "li.si")
        + group("canteen", "zhang.san", "wang.wu")
        # a posixGroup lists members by uid (memberUid), not by DN: the default group filter reads both
        + f"dn: cn=zhixing-j9999-clerks,ou=groups,{BASE}\nobjectClass: posixGroup\ncn: zhixing-j9999-clerks\n"
          f"gidNumber: 5001\nmemberUid: li.si\n\n"
        + group("zhixing-admins", "boss"))

MAPPING = f"""\
# group (cn, or whole DN) → court → roles
groups:
  zhixing-j0104-officers:
    J0104: [implementation_officer, panel_member]
  cn=zhixing-j0104-clerks, ou=groups, {BASE}:
    J0104: clerk
  zhixing-j9999-clerks:
    J9999: [clerk]
  zhixing-admins:
    J0104: admin
"""


@pytest.fixture(scope="module")
def directory_server(tmp_path_factory):
    server = ldap.Slapd(tmp_path_factory.mktemp("slapd"), LDIF).start()
    yield server
    server.stop()


@pytest.fixture
def settings(directory_server, tmp_path):
    mapping = tmp_path / "ldap-groups.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return {"ZHIXING_LDAP_URL": directory_server.url, "ZHIXING_LDAP_USER_BASE": f"ou=people,{BASE}",
            "ZHIXING_LDAP_BIND_DN": SERVICE_DN, "ZHIXING_LDAP_BIND_PASSWORD": SERVICE_PW,
            "ZHIXING_LDAP_GROUP_BASE": f"ou=groups,{BASE}", "ZHIXING_LDAP_GROUPS": str(mapping),
            "ZHIXING_LDAP_TIMEOUT": "2"}


@pytest.fixture
def app(engine, settings):
    # local accounts: an administrator, and one whose name the directory also has (its 'boss' is someone else)
    engine.add_user("boss", "系统管理 本院", [("J0104", "admin")], generate_password_hash("local-boss-1"))
    return create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "LDAP": settings})


@contextlib.contextmanager
def as_root(server):
    """The directory's administrator changing groups (ldap3's own ``with`` leaves a bound connection open)."""
    conn = ldap3.Connection(server.url, ldap.ROOT_DN, ldap.ROOT_PW, auto_bind=True)
    try:
        yield conn
    finally:
        conn.unbind()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(app, username: str, password: str):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    return client, response


def signed_in_as(client) -> str | None:
    with client.session_transaction() as session:
        return session.get("user")


def account(engine, username: str):
    return engine.executor.read(lambda conn: conn.execute(
        sa.select(users.c.display_name, users.c.password_hash, users.c.active)
        .where(users.c.username == username)).first())


def test_a_directory_user_signs_in_and_gets_the_roles_of_their_groups(app, engine, caplog):
    caplog.set_level(logging.INFO, "zhixing.directory")
    client, response = login(app, "zhang.san", PASSWORDS["zhang.san"])
    assert response.status_code == 302, response.get_data(as_text=True)
    assert signed_in_as(client) == "zhang.san"
    assert engine.roles_of("zhang.san") == [("J0104", "implementation_officer"), ("J0104", "panel_member")]
    row = account(engine, "zhang.san")
    assert row.display_name == "张三（执行局）" and row.password_hash is None and row.active   # displayName
    assert client.get("/").status_code == 200                              # an officer's task list
    assert "+J0104:implementation_officer" in caplog.text                 # the login and its grants are logged
    logged = engine.executor.read(lambda conn: conn.execute(
        sa.select(office_events.c.actor, office_events.c.subject, office_events.c.data)
        .where(office_events.c.action == "account.directory_login")).all())
    assert [(r.actor, r.subject, r.data["grants"]) for r in logged] == [
        ("zhang.san", "zhang.san", ["J0104:implementation_officer", "J0104:panel_member"])]   # the office log
    assert all(report.ok for report in engine.verify_audit())

    # roles in two courts: a DN key with spaces, a posixGroup by memberUid; cn is the name without displayName
    _client, response = login(app, "li.si", PASSWORDS["li.si"])
    assert response.status_code == 302
    assert engine.roles_of("li.si") == [("J0104", "clerk"), ("J9999", "clerk")]
    assert account(engine, "li.si").display_name == "李四"


def test_roles_follow_the_groups_at_each_login_and_local_grants_are_kept(app, engine, directory_server):
    assert login(app, "zhao.liu", PASSWORDS["zhao.liu"])[1].status_code == 302
    # an administrator grants a role the mapping does not name (kept) and one it names (the directory decides)
    engine.admin.set_roles("zhao.liu", [("J0104", "implementation_officer"), ("J0104", "panel_member"),
                                        ("J0104", "judge_assistant"), ("J0104", "clerk")], ["J0104"])
    with as_root(directory_server) as root:
        assert root.modify(f"cn=zhixing-j0104-officers,ou=groups,{BASE}",
                           {"member": [(ldap3.MODIFY_DELETE, [f"uid=zhao.liu,ou=people,{BASE}"])]})
        assert root.modify(f"cn=zhixing-j9999-clerks,ou=groups,{BASE}",
                           {"memberUid": [(ldap3.MODIFY_ADD, ["zhao.liu"])]})
        assert root.modify(f"uid=zhao.liu,ou=people,{BASE}", {"cn": [(ldap3.MODIFY_REPLACE, ["赵六六"])]})
    try:
        assert login(app, "zhao.liu", PASSWORDS["zhao.liu"])[1].status_code == 302
        assert engine.roles_of("zhao.liu") == [("J0104", "judge_assistant"), ("J9999", "clerk")]
        assert account(engine, "zhao.liu").display_name == "赵六六"
    finally:
        with as_root(directory_server) as root:
            root.modify(f"cn=zhixing-j0104-officers,ou=groups,{BASE}",
                        {"member": [(ldap3.MODIFY_ADD, [f"uid=zhao.liu,ou=people,{BASE}"])]})
            root.modify(f"cn=zhixing-j9999-clerks,ou=groups,{BASE}",
                        {"memberUid": [(ldap3.MODIFY_DELETE, ["zhao.liu"])]})
            root.modify(f"uid=zhao.liu,ou=people,{BASE}", {"cn": [(ldap3.MODIFY_REPLACE, ["赵六"])]})


def test_a_wrong_password_is_refused_like_a_local_one(app, engine):
    for username, password in (("zhang.san", "not-it"), ("nobody", "whatever-1"), ("zhang.san", "")):
        client, response = login(app, username, password)
        assert response.status_code == 401 and WRONG in response.get_data(as_text=True), (username, password)
        assert signed_in_as(client) is None
    assert account(engine, "zhang.san") is None and account(engine, "nobody") is None
    _client, local = login(app, "boss", "not-it")
    assert local.status_code == 401 and WRONG in local.get_data(as_text=True)


def test_a_local_account_never_signs_in_through_the_directory(app, engine):
    # the directory's 'boss' (its password, its admin group) does not become the local administrator
    client, response = login(app, "boss", PASSWORDS["boss"])
    assert response.status_code == 401 and WRONG in response.get_data(as_text=True)
    assert signed_in_as(client) is None
    assert account(engine, "boss").display_name == "系统管理 本院"
    client, response = login(app, "boss", "local-boss-1")
    assert response.status_code == 302 and signed_in_as(client) == "boss"


def test_a_directory_user_without_a_mapped_group_is_told_and_gets_no_account(app, engine):
    client, response = login(app, "wang.wu", PASSWORDS["wang.wu"])       # in 'canteen' only
    assert response.status_code == 401 and NO_ROLE in response.get_data(as_text=True)
    assert signed_in_as(client) is None and account(engine, "wang.wu") is None


def test_a_deactivated_directory_account_stays_out(app, engine):
    assert login(app, "zhang.san", PASSWORDS["zhang.san"])[1].status_code == 302
    engine.admin.set_active("zhang.san", False, ["J0104"], actor="boss")
    client, response = login(app, "zhang.san", PASSWORDS["zhang.san"])
    assert response.status_code == 401 and WRONG in response.get_data(as_text=True)
    assert signed_in_as(client) is None and engine.roles_of("zhang.san") == []


@pytest.mark.parametrize("username", ["zhang*", "zhang.san)(uid=*", "*)(uid=zhang.san", "*", "zhang.san\\"])
def test_ldap_injection_in_the_username_finds_nobody(app, engine, username):
    """Unescaped, ``(uid=zhang*)`` would match zhang.san alone and his password would sign in a new account."""
    def accounts() -> set[str]:
        return set(engine.executor.read(lambda conn: conn.execute(sa.select(users.c.username)).scalars()))
    before = accounts()
    client, response = login(app, username, PASSWORDS["zhang.san"])
    assert response.status_code == 401 and WRONG in response.get_data(as_text=True)
    assert signed_in_as(client) is None and accounts() == before


def test_a_bind_dn_template_escapes_the_username(engine, settings):
    settings = dict(settings, ZHIXING_LDAP_USER_DN=f"uid={{username}},ou=people,{BASE}")
    for name in ("ZHIXING_LDAP_USER_BASE", "ZHIXING_LDAP_BIND_DN", "ZHIXING_LDAP_BIND_PASSWORD"):
        settings.pop(name)
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "LDAP": settings})
    client, response = login(app, "li.si", PASSWORDS["li.si"])
    assert response.status_code == 302 and signed_in_as(client) == "li.si"   # groups read as the user
    assert engine.roles_of("li.si") == [("J0104", "clerk"), ("J9999", "clerk")]
    # 'old.chen,ou=retired' typed as the name stays one uid value: unescaped, it would bind the retired
    # officer's entry below ou=people (still in the officers' group) and sign him in
    client, response = login(app, "old.chen,ou=retired", PASSWORDS["old.chen"])
    assert response.status_code == 401 and WRONG in response.get_data(as_text=True)
    assert signed_in_as(client) is None and account(engine, "old.chen") is None


def test_the_directory_going_away_leaves_local_accounts_working(app, engine, directory_server):
    assert login(app, "zhang.san", PASSWORDS["zhang.san"])[1].status_code == 302
    directory_server.stop()
    try:
        client, response = login(app, "zhang.san", PASSWORDS["zhang.san"])
        page = response.get_data(as_text=True)
        assert response.status_code == 401 and DOWN in page and WRONG not in page and "Traceback" not in page
        assert signed_in_as(client) is None
        client, response = login(app, "boss", "local-boss-1")            # the local administrator still can
        assert response.status_code == 302 and signed_in_as(client) == "boss"
        assert engine.roles_of("zhang.san") == [("J0104", "implementation_officer"), ("J0104", "panel_member")]
    finally:
        directory_server.restart()
    assert login(app, "zhang.san", PASSWORDS["zhang.san"])[1].status_code == 302


def test_a_second_directory_server_is_tried_when_the_first_cannot_be_reached(engine, settings):
    dead = f"ldap://127.0.0.1:{ldap.free_port()}"
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test",
                      "LDAP": dict(settings, ZHIXING_LDAP_URL=f"{dead} {settings['ZHIXING_LDAP_URL']}")})
    assert login(app, "li.si", PASSWORDS["li.si"])[1].status_code == 302


def test_a_refused_service_account_is_an_outage_not_a_wrong_password(engine, settings, caplog):
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test",
                      "LDAP": dict(settings, ZHIXING_LDAP_BIND_PASSWORD="not-the-service-password")})
    response = login(app, "li.si", PASSWORDS["li.si"])[1]
    assert response.status_code == 401 and DOWN in response.get_data(as_text=True)
    assert "service account" in caplog.text and "ZHIXING_LDAP_BIND_DN" in caplog.text


def test_a_user_filter_that_finds_several_entries_signs_nobody_in(engine, settings, caplog):
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "LDAP": dict(
        settings, ZHIXING_LDAP_USER_FILTER="(|(uid={username})(objectClass=inetOrgPerson))")})
    response = login(app, "li.si", PASSWORDS["li.si"])[1]
    assert response.status_code == 401 and WRONG in response.get_data(as_text=True)
    assert "matched more than one entry" in caplog.text


def test_english_messages(app, directory_server):
    client = app.test_client()
    client.post("/language/en", data={"csrf_token": csrf_of(client.get("/login").get_data(as_text=True))})
    token = csrf_of(client.get("/login").get_data(as_text=True))
    page = client.post("/login", data={"username": "wang.wu", "password": PASSWORDS["wang.wu"],
                                       "csrf_token": token}).get_data(as_text=True)
    assert "Your directory account holds no role in zhixing" in page


# -- settings and the mapping file, checked at start ---------------------------------------------------------

def test_without_a_directory_url_there_is_no_directory_login(engine):
    app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "LDAP": {}})
    assert engine.directory is None
    assert login(app, "zhang.san", PASSWORDS["zhang.san"])[1].status_code == 401


def test_a_wrong_mapping_stops_the_start_with_every_problem_named(tmp_path, settings):
    bad = tmp_path / "groups.yaml"
    bad.write_text("groups:\n  officers:\n    J0104: [implementation_officer, bailiff]\n"
                   "  clerks:\n    'J 0104': clerk\n  empty: {}\n", encoding="utf-8")
    with pytest.raises(DirectoryConfigError) as exc:
        settings_from(dict(settings, ZHIXING_LDAP_GROUPS=str(bad)))
    message = str(exc.value)
    assert "groups.officers.J0104: unknown role 'bailiff'; known roles: filing_clerk" in message
    assert "'J 0104' is not a court code" in message and "groups.empty: expected court" in message
    bad.write_text("groups:\n  officers: [a\n", encoding="utf-8")
    with pytest.raises(DirectoryConfigError, match=r"groups.yaml:\d+: not YAML"):
        load_mapping(bad)
    bad.write_text("officers:\n  J0104: clerk\n", encoding="utf-8")
    with pytest.raises(DirectoryConfigError, match="expected one key 'groups'"):
        load_mapping(bad)
    good = tmp_path / "groups.json"
    good.write_text('{"groups": {"officers": {"J0104": "clerk"}}}', encoding="utf-8")
    assert load_mapping(good).managed == {("J0104", "clerk")}


def test_wrong_settings_are_reported_together(tmp_path):
    with pytest.raises(DirectoryConfigError) as exc:
        settings_from({"ZHIXING_LDAP_URL": "http://dir.court", "ZHIXING_LDAP_USER_DN": "ou=people",
                       "ZHIXING_LDAP_BIND_DN": "cn=svc", "ZHIXING_LDAP_TIMEOUT": "soon",
                       "ZHIXING_LDAP_GROUPS": str(tmp_path / "missing.yaml")})
    message = str(exc.value)
    for expected in ("'http://dir.court' is not ldap://", "ZHIXING_LDAP_USER_DN must contain {username}",
                     "ZHIXING_LDAP_GROUP_BASE is required", "go together", "ZHIXING_LDAP_TIMEOUT",
                     "cannot read"):
        assert expected in message, expected


def test_the_app_does_not_start_with_a_wrong_mapping(engine, settings, tmp_path):
    bad = tmp_path / "groups.yaml"
    bad.write_text("groups:\n  officers:\n    J0104: judge\n", encoding="utf-8")
    with pytest.raises(DirectoryConfigError, match="unknown role 'judge'"):
        create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test",
                    "LDAP": dict(settings, ZHIXING_LDAP_GROUPS=str(bad))})


# -- zhixing directory check ---------------------------------------------------------------------------------

def zhixing(env: dict, *args, stdin: str = ""):
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", "from web.cli import main; main()", *args], cwd=root,
                          env=dict(os.environ, DATABASE_URL="sqlite:///:memory:", **env), input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_directory_check_reaches_the_servers_and_shows_a_users_roles(settings):
    dead = f"ldap://127.0.0.1:{ldap.free_port()}"
    result = zhixing(dict(settings, ZHIXING_LDAP_URL=f"{settings['ZHIXING_LDAP_URL']} {dead}"),
                     "directory", "check", "li.si", stdin=PASSWORDS["li.si"] + "\n")
    assert result.returncode == 1 and "Traceback" not in result.stderr        # one server does not answer
    assert f"{settings['ZHIXING_LDAP_URL']}: ok" in result.stdout and f"{dead}: LDAPSocketOpenError" in result.stdout
    assert "J0104:clerk, J9999:clerk" in result.stdout and "cn=zhixing-j9999-clerks" in result.stdout
    assert "J0104:implementation_officer" in result.stdout.splitlines()[0]     # the pairs the mapping sets
    wrong = zhixing(settings, "directory", "check", "li.si", stdin="nope\n")
    assert wrong.returncode == 1 and "error: unknown user or wrong password" in wrong.stderr
    off = zhixing({"ZHIXING_LDAP_URL": ""}, "directory", "check")
    assert off.returncode == 1 and "directory login is off" in off.stderr
    bad = zhixing(dict(settings, ZHIXING_LDAP_GROUP_BASE=""), "directory", "check")
    assert bad.returncode == 1 and "ZHIXING_LDAP_GROUP_BASE is required" in bad.stderr
    assert "Traceback" not in bad.stderr
    nowhere = zhixing(dict(settings, ZHIXING_LDAP_GROUP_BASE=f"ou=nowhere,{BASE}"), "directory", "check")
    assert nowhere.returncode == 1 and f"ZHIXING_LDAP_GROUP_BASE ou=nowhere,{BASE} not found" in nowhere.stdout


# -- TLS: ldaps:// and StartTLS, certificates always verified -------------------------------------------------

@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    if ldap.missing_tls():
        pytest.skip(ldap.missing_tls())
    server = ldap.Slapd(tmp_path_factory.mktemp("slapd-tls"), LDIF, tls=True).start()
    yield server
    server.stop()


def test_ldaps_and_starttls_sign_in_with_the_courts_ca_and_refuse_an_untrusted_certificate(engine, settings,
                                                                                          tls_server):
    tls = [dict(settings, ZHIXING_LDAP_URL=tls_server.ldaps_url, ZHIXING_LDAP_CA_FILE=str(tls_server.ca_file)),
           dict(settings, ZHIXING_LDAP_URL=tls_server.url, ZHIXING_LDAP_START_TLS="1",
                ZHIXING_LDAP_CA_FILE=str(tls_server.ca_file))]
    for env in tls:
        app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "LDAP": env})
        client, response = login(app, "li.si", PASSWORDS["li.si"])
        assert response.status_code == 302 and signed_in_as(client) == "li.si", env["ZHIXING_LDAP_URL"]
    for env in tls:                   # without the court's CA, the system's CAs do not trust the server
        env = {k: v for k, v in env.items() if k != "ZHIXING_LDAP_CA_FILE"}
        app = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test", "LDAP": env})
        response = login(app, "li.si", PASSWORDS["li.si"])[1]
        assert response.status_code == 401 and DOWN in response.get_data(as_text=True), env["ZHIXING_LDAP_URL"]
