"""Directory login (统一身份认证): court staff sign in with the court's LDAP directory instead of a second password.

A user who binds to the directory with their password is signed in; their zhixing account is created or updated
with the display name from the directory and the roles their groups map to, court by court (the mapping file,
``ZHIXING_LDAP_GROUPS``). The rules, and why:

* **Local accounts stay local.** An account with a local password (the embedded default, administrators, the demo
  users) is checked against that password only, never against the directory; so administrators sign in while the
  directory is down, and a directory entry that happens to carry a local account's name cannot take it over.
  Directory accounts have no local password.
* **The mapping owns the (court, role) pairs it names.** At each directory login, the user's roles among those
  pairs are replaced by what their groups give now (a user removed from a group loses its role at their next
  login); roles an administrator granted that the mapping does not name are kept. To grant a pair the mapping
  names, add the user to the group: an administrator's grant of it would be undone at the next login.
* **A directory user without any role is not signed in** (and gets no account): the directory holds the whole
  court's staff, zhixing only needs those who work on enforcement.
* A directory login is an account write: ``engine/workspaces/directory.py`` runs ``sync_account`` as an office
  write, so the office log records it (``account.directory_login``); the roles it changed go to the
  ``zhixing.directory`` log.

Every value typed by the user reaches the directory escaped: in a search filter with ``escape_filter_chars``, in a
bind DN with ``escape_rdn``. An empty password is refused before the directory is asked (an LDAP simple bind with
an empty password is an *unauthenticated* bind, which many servers accept).
"""
from __future__ import annotations

import json
import logging
import math
import re
import ssl
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
import yaml

from engine.court.roles import ROLES
from engine.errors import ZhixingError
from engine.store.database import inserted_id
from engine.store.tables import user_roles, users

log = logging.getLogger("zhixing.directory")

DEFAULT_USER_FILTER = "(&(objectClass=person)(uid={username}))"
DEFAULT_GROUP_FILTER = "(|(member={dn})(uniqueMember={dn})(memberUid={username}))"
COURT = re.compile(r"^\S{1,32}$")                   # user_roles.court is String(32)
# result codes of a refused bind (RFC 4511): invalidCredentials, insufficientAccessRights, unwillingToPerform,
# noSuchObject (a DN template naming nobody). Anything else (busy, unavailable, …) means the directory is not there.
REFUSED = {49, 50, 53, 32, 34}


class DirectoryConfigError(ZhixingError):
    """The directory settings or the group mapping are wrong: the application does not start."""

    status = 500
    code = "directory.misconfigured"


class DirectoryUnavailable(ZhixingError):
    """The directory cannot be reached (or refused the service account): local accounts still sign in."""

    status = 503
    code = "directory.unavailable"


class WrongCredentials(ZhixingError):
    """Unknown user or wrong password: answered exactly like a local wrong password."""

    status = 401
    code = "directory.wrong_credentials"


class NoRole(ZhixingError):
    """The directory knows the user, but none of their groups gives a role in zhixing."""

    status = 403
    code = "directory.no_role"


# -- the group mapping ---------------------------------------------------------------------------------------

def _dn_key(dn: str) -> str:
    """A DN compared as LDAP does for the usual attributes: types and values without case, spaces around ``,``
    and ``=`` ignored."""
    parts = []
    for rdn in re.split(r"(?<!\\),", dn.strip()):
        kind, sep, value = rdn.partition("=")
        if not sep or not kind.strip() or not re.match(r"^[A-Za-z][A-Za-z0-9-]*$|^[0-9.]+$", kind.strip()):
            raise ValueError(f"not a DN: {dn}")
        parts.append(f"{kind.strip().lower()}={value.strip().lower()}")
    return ",".join(parts)


@dataclass(frozen=True)
class GroupMapping:
    """Group → ``(court, role)`` grants. A key is a group's DN (it contains ``=``) or its ``cn``."""

    by_dn: Mapping[str, frozenset]
    by_cn: Mapping[str, frozenset]

    @property
    def managed(self) -> frozenset:
        """Every pair the mapping names: the pairs a directory login sets."""
        return frozenset().union(*self.by_dn.values(), *self.by_cn.values())

    def grants_for(self, groups) -> frozenset:
        """``groups``: ``(dn, cn values)`` of the user's groups."""
        out: set = set()
        for dn, cns in groups:
            out |= self.by_dn.get(_dn_key(dn), frozenset())
            for cn in cns:
                out |= self.by_cn.get(cn.lower(), frozenset())
        return frozenset(out)


def parse_mapping(data, source: str) -> GroupMapping:
    """Check the mapping's shape, role codes and court codes; each problem names its place in the file."""
    problems: list[str] = []
    if not isinstance(data, dict) or set(data) != {"groups"} or not isinstance(data["groups"], dict):
        raise DirectoryConfigError(f"{source}: expected one key 'groups': a mapping of group (cn or DN) → "
                                   "court → role or list of roles")
    by_dn: dict[str, set] = {}
    by_cn: dict[str, set] = {}
    for group, courts in data["groups"].items():
        where = f"{source}: groups.{group}"
        if not isinstance(group, str) or not group.strip():
            problems.append(f"{where}: a group is named by its cn or its DN (text)")
            continue
        if not isinstance(courts, dict) or not courts:
            problems.append(f"{where}: expected court → role or list of roles")
            continue
        pairs = set()
        for court, roles in courts.items():
            if not isinstance(court, str) or not COURT.match(court):
                problems.append(f"{where}: '{court}' is not a court code (1–32 characters, no spaces)")
                continue
            roles = [roles] if isinstance(roles, str) else roles
            if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
                problems.append(f"{where}.{court}: expected a role or a list of roles")
                continue
            for role in roles:
                if role not in ROLES:
                    problems.append(f"{where}.{court}: unknown role '{role}'; known roles: {', '.join(ROLES)}")
                pairs.add((court, role))
        if "=" in group:
            try:
                key = _dn_key(group)
            except ValueError:
                problems.append(f"{where}: not a valid DN (type=value, …)")
                continue
            by_dn.setdefault(key, set()).update(pairs)
        else:
            by_cn.setdefault(group.strip().lower(), set()).update(pairs)
    if problems:
        raise DirectoryConfigError("\n".join(problems))
    return GroupMapping({k: frozenset(v) for k, v in by_dn.items()}, {k: frozenset(v) for k, v in by_cn.items()})


def load_mapping(path: str | Path) -> GroupMapping:
    """Read the mapping file (YAML, or JSON by its ``.json`` suffix)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DirectoryConfigError(f"ZHIXING_LDAP_GROUPS: cannot read {path}: {exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise DirectoryConfigError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise DirectoryConfigError(f"{path}{line}: not YAML: {getattr(exc, 'problem', None) or exc}") from None
    return parse_mapping(data, str(path))


# -- the settings ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DirectorySettings:
    urls: tuple                    # tried in order while one cannot be reached
    mapping: GroupMapping
    group_base: str
    user_dn: str | None = None     # bind DN template: uid={username},ou=people,dc=…
    user_base: str | None = None   # or: search here for the user (as the service account, if any) …
    user_filter: str = DEFAULT_USER_FILTER
    bind_dn: str | None = None     # … the service account
    bind_password: str | None = None
    group_filter: str = DEFAULT_GROUP_FILTER
    username_attr: str = "uid"
    name_attrs: tuple = ("displayName", "cn")
    timeout: float = 5.0
    start_tls: bool = False
    ca_file: str | None = None


def settings_from(env: Mapping[str, str]) -> DirectorySettings | None:
    """The settings from ``ZHIXING_LDAP_*`` variables (docs/deployment.md, "Directory login"); None when
    ``ZHIXING_LDAP_URL`` is not set (no directory: local accounts only). Every mistake is reported at once."""
    url = (env.get("ZHIXING_LDAP_URL") or "").strip()
    if not url:
        return None
    problems = []
    get = lambda name: (env.get(name) or "").strip() or None  # noqa: E731
    urls = tuple(url.split())
    for u in urls:
        if not re.match(r"^ldaps?://[^/\s]+/?$", u):
            problems.append(f"ZHIXING_LDAP_URL: '{u}' is not ldap://host[:port] or ldaps://host[:port]")
    user_dn, user_base = get("ZHIXING_LDAP_USER_DN"), get("ZHIXING_LDAP_USER_BASE")
    if bool(user_dn) == bool(user_base):
        problems.append("set one of ZHIXING_LDAP_USER_DN (a bind DN template with {username}) or "
                        "ZHIXING_LDAP_USER_BASE (where to search for the user)")
    if user_dn and "{username}" not in user_dn:
        problems.append("ZHIXING_LDAP_USER_DN must contain {username}")
    user_filter = get("ZHIXING_LDAP_USER_FILTER") or DEFAULT_USER_FILTER
    if "{username}" not in user_filter or not (user_filter.startswith("(") and user_filter.endswith(")")):
        problems.append("ZHIXING_LDAP_USER_FILTER must be an LDAP filter in parentheses containing {username}")
    group_filter = get("ZHIXING_LDAP_GROUP_FILTER") or DEFAULT_GROUP_FILTER
    if not ("{dn}" in group_filter or "{username}" in group_filter) or not group_filter.startswith("("):
        problems.append("ZHIXING_LDAP_GROUP_FILTER must be an LDAP filter in parentheses containing {dn} or "
                        "{username}")
    group_base = get("ZHIXING_LDAP_GROUP_BASE")
    if not group_base:
        problems.append("ZHIXING_LDAP_GROUP_BASE is required (where the groups are)")
    bind_dn, bind_password = get("ZHIXING_LDAP_BIND_DN"), env.get("ZHIXING_LDAP_BIND_PASSWORD") or None
    password_file = get("ZHIXING_LDAP_BIND_PASSWORD_FILE")
    if password_file:
        try:
            bind_password = Path(password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"ZHIXING_LDAP_BIND_PASSWORD_FILE: {exc}")
    if bool(bind_dn) != bool(bind_password):
        problems.append("ZHIXING_LDAP_BIND_DN and ZHIXING_LDAP_BIND_PASSWORD (or _FILE) go together")
    try:
        timeout = float(get("ZHIXING_LDAP_TIMEOUT") or 5)
        if not 0 < timeout <= 60:
            raise ValueError
    except ValueError:
        problems.append("ZHIXING_LDAP_TIMEOUT: seconds, more than 0 and at most 60")
        timeout = 5.0
    start_tls = (get("ZHIXING_LDAP_START_TLS") or "0").lower() in ("1", "true", "yes")
    ca_file = get("ZHIXING_LDAP_CA_FILE")
    if ca_file and not Path(ca_file).is_file():
        problems.append(f"ZHIXING_LDAP_CA_FILE: {ca_file} is not a file")
    mapping = None
    mapping_file = get("ZHIXING_LDAP_GROUPS")
    if not mapping_file:
        problems.append("ZHIXING_LDAP_GROUPS is required: the file mapping groups to roles per court")
    else:
        try:
            mapping = load_mapping(mapping_file)
        except DirectoryConfigError as exc:
            problems.append(str(exc))
    if problems or mapping is None or group_base is None:
        raise DirectoryConfigError("directory login (ZHIXING_LDAP_*) is misconfigured:\n  " + "\n  ".join(problems))
    plain = [u for u in urls if u.startswith("ldap://") and not re.match(r"^ldap://(127\.|localhost|\[::1\])", u)]
    if plain and not start_tls:
        log.warning("ZHIXING_LDAP_URL %s: passwords cross the network in clear; use ldaps:// or "
                    "ZHIXING_LDAP_START_TLS=1", " ".join(plain))
    names = tuple(n.strip() for n in (get("ZHIXING_LDAP_NAME_ATTRS") or "displayName,cn").split(",") if n.strip())
    return DirectorySettings(urls=urls, mapping=mapping, group_base=group_base, user_dn=user_dn,
                             user_base=user_base, user_filter=user_filter, bind_dn=bind_dn,
                             bind_password=bind_password, group_filter=group_filter,
                             username_attr=get("ZHIXING_LDAP_USERNAME_ATTR") or "uid", name_attrs=names,
                             timeout=timeout, start_tls=start_tls, ca_file=ca_file)


# -- asking the directory ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DirectoryUser:
    username: str                  # the zhixing account: the entry's uid, lower-case
    display_name: str
    dn: str
    groups: tuple                  # DNs of the user's groups
    grants: frozenset              # (court, role) the groups give


def _first(entry_attrs: dict, name: str) -> str | None:
    for key, value in entry_attrs.items():
        if key.lower() == name.lower():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, bytes):
                    v = v.decode("utf-8", "replace")
                if str(v).strip():
                    return str(v).strip()
    return None


def _values(entry_attrs: dict, name: str) -> list[str]:
    for key, value in entry_attrs.items():
        if key.lower() == name.lower():
            return [str(v) for v in (value if isinstance(value, list) else [value])]
    return []


class Directory:
    """One login = a bind as the user (after a search for their DN, as the service account, when the DN is not
    a template), a read of their name, a search of their groups. Nothing is cached: a disabled directory
    account cannot sign in the minute after."""

    def __init__(self, settings: DirectorySettings):
        self.settings = settings

    def _connection(self, url: str, dn: str | None, password: str | None):
        """An open connection, bound as ``dn`` (``bind_ok`` tells whether the bind was accepted)."""
        import ldap3
        s = self.settings
        tls = None
        if url.startswith("ldaps://") or s.start_tls:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=s.ca_file)
        server = ldap3.Server(url, connect_timeout=s.timeout, get_info=ldap3.NONE, tls=tls)
        # the receive timeout becomes SO_RCVTIMEO, packed by ldap3 as whole seconds
        conn = ldap3.Connection(server, user=dn, password=password, receive_timeout=max(1, math.ceil(s.timeout)),
                                read_only=True,
                                raise_exceptions=False, auto_bind=ldap3.AUTO_BIND_NONE)
        try:
            conn.open()
            if s.start_tls and not url.startswith("ldaps://") and not conn.start_tls():
                raise DirectoryUnavailable(f"StartTLS refused: {conn.result.get('description')}")
            conn.bind_ok = conn.bind() if dn else True
        except BaseException:
            try:
                conn.unbind()
            except Exception:                # not open, or already cut: nothing to say goodbye to
                pass
            if conn.socket is not None:      # ldap3 keeps the socket of a connect that failed: close it here
                conn.socket.close()
            raise
        return conn

    def authenticate(self, username: str, password: str) -> DirectoryUser:
        """Raise ``WrongCredentials``, ``DirectoryUnavailable``; else the user with the grants of their groups."""
        from ldap3.core.exceptions import LDAPException
        username = (username or "").strip()
        if (not password or not username or len(username) > 64
                or any(unicodedata.category(c).startswith("C") for c in username + password)):
            raise WrongCredentials("unknown user or wrong password")
        reasons = []
        for url in self.settings.urls:
            try:
                return self._authenticate_at(url, username, password)
            except (WrongCredentials, DirectoryUnavailable) as exc:
                if isinstance(exc, WrongCredentials):
                    raise
                reasons.append(f"{url}: {exc}")
            except (LDAPException, OSError) as exc:      # refused, timed out, TLS failed, cut mid-way
                reasons.append(f"{url}: {exc.__class__.__name__}: {exc}")
            except Exception as exc:                     # ldap3 lets a few others through: still not a 500 page
                log.exception("directory login of %r at %s failed", username, url)
                reasons.append(f"{url}: {exc.__class__.__name__}: {exc}")
        log.error("directory login of %r: no directory server answered: %s", username, "; ".join(reasons))
        raise DirectoryUnavailable("the court directory cannot be reached: " + "; ".join(reasons))

    def _authenticate_at(self, url: str, username: str, password: str) -> DirectoryUser:
        import ldap3
        from ldap3.utils.conv import escape_filter_chars
        from ldap3.utils.dn import escape_rdn
        s = self.settings
        attrs = [s.username_attr, *s.name_attrs]
        service = None
        user = None
        try:
            if s.user_base:
                service = self._connection(url, s.bind_dn, s.bind_password)
                if not service.bind_ok:
                    raise DirectoryUnavailable(f"the service account {s.bind_dn} was refused "
                                               f"({service.result.get('description')}): check ZHIXING_LDAP_BIND_DN "
                                               "and its password")
                query = s.user_filter.replace("{username}", escape_filter_chars(username))
                if not service.search(s.user_base, query, ldap3.SUBTREE, attributes=attrs, size_limit=2):
                    if service.result.get("result") != 4:        # 4 sizeLimitExceeded: more than one, below
                        self._check_search(service, "user")
                found = [e for e in service.response or () if e.get("type") == "searchResEntry"]
                if len(found) != 1 or service.result.get("result") == 4:
                    if found:
                        log.warning("directory login of %r: the user filter matched more than one entry", username)
                    raise WrongCredentials("unknown user or wrong password")
                dn, entry = found[0]["dn"], found[0]["attributes"]
            else:
                assert s.user_dn is not None          # settings_from: a template or a search base
                dn, entry = s.user_dn.replace("{username}", escape_rdn(username)), None
            user = self._connection(url, dn, password)
            if not user.bind_ok:
                code = user.result.get("result")
                if code in REFUSED:
                    raise WrongCredentials("unknown user or wrong password")
                raise DirectoryUnavailable(f"bind answered {code} {user.result.get('description')}")
            if entry is None:
                if not user.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attrs):
                    self._check_search(user, "user")
                found = [e for e in user.response if e.get("type") == "searchResEntry"]
                entry = found[0]["attributes"] if found else {}
            name_value = _first(entry, s.username_attr) or username
            display = next((v for v in (_first(entry, a) for a in s.name_attrs) if v), name_value)
            reader = service or user
            query = (s.group_filter.replace("{dn}", escape_filter_chars(dn))
                     .replace("{username}", escape_filter_chars(name_value)))
            groups = []
            for e in reader.extend.standard.paged_search(s.group_base, query, ldap3.SUBTREE, attributes=["cn"],
                                                          paged_size=500, generator=True):
                if e.get("type") == "searchResEntry":
                    groups.append((e["dn"], _values(e["attributes"], "cn")))
            self._check_search(reader, "group")
            return DirectoryUser(username=name_value.lower(), display_name=display[:128], dn=dn,
                                 groups=tuple(g for g, _cn in groups), grants=s.mapping.grants_for(groups))
        finally:
            for conn in (user, service):
                if conn is not None:
                    try:
                        conn.unbind()
                    except Exception:       # the server may already be gone; nothing to release then
                        pass

    def reach(self) -> list[tuple[str, str | None]]:
        """``(url, None)`` for each server that answers (and accepts the service account), else ``(url, why)``:
        what ``zhixing directory check`` prints before anyone tries to sign in."""
        import ldap3
        from ldap3.core.exceptions import LDAPException
        out: list[tuple[str, str | None]] = []
        for url in self.settings.urls:
            conn = None
            try:
                conn = self._connection(url, self.settings.bind_dn, self.settings.bind_password)
                if not conn.bind_ok:
                    out.append((url, f"the service account {self.settings.bind_dn} was refused "
                                     f"({conn.result.get('description')})"))
                    continue
                missing = [f"{name} {base} not found" for name, base in
                           (("ZHIXING_LDAP_USER_BASE", self.settings.user_base),
                            ("ZHIXING_LDAP_GROUP_BASE", self.settings.group_base))
                           if base and self.settings.bind_dn
                           and not conn.search(base, "(objectClass=*)", ldap3.BASE, attributes=["1.1"])]
                out.append((url, "; ".join(missing) or None))
            except (LDAPException, OSError, DirectoryUnavailable) as exc:
                out.append((url, f"{exc.__class__.__name__}: {exc}"))
            finally:
                if conn is not None:
                    conn.unbind()
        return out

    @staticmethod
    def _check_search(conn, what: str) -> None:
        """A search that failed for another reason than finding nothing is an outage or a misconfiguration."""
        code = (conn.result or {}).get("result", 0)
        if code == 32:                      # noSuchObject: nothing found, but a base that does not exist is a slip
            log.warning("the %s search base does not exist (%s): check ZHIXING_LDAP_%s_BASE", what,
                        conn.result.get("matcheddn") or conn.result.get("description"), what.upper())
        elif code != 0:
            raise DirectoryUnavailable(f"the {what} search answered {code} {conn.result.get('description')}")


# -- the account -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SyncResult:
    roles: tuple                   # every (court, role) the user holds after the login
    added: tuple
    removed: tuple
    created: bool


def has_local_password(conn: sa.Connection, username: str) -> bool:
    """A local account (it signs in with its own password, never through the directory)."""
    return bool(conn.execute(sa.select(users.c.password_hash).where(users.c.username == username)).scalar())


def sync_account(conn: sa.Connection, person: DirectoryUser, managed: frozenset, now: datetime) -> SyncResult:
    """Create or update the directory user's account and set their roles among ``managed`` to their grants."""
    row = conn.execute(sa.select(users.c.id, users.c.password_hash, users.c.active, users.c.display_name)
                       .where(users.c.username == person.username)).first()
    if row is not None and row.password_hash:
        log.warning("directory login of %r refused: %r is a local account (it signs in with its local password)",
                    person.dn, person.username)
        raise WrongCredentials("unknown user or wrong password")
    if row is not None and not row.active:
        raise WrongCredentials("unknown user or wrong password")
    held = set() if row is None else {(r.court, r.role) for r in conn.execute(
        sa.select(user_roles.c.court, user_roles.c.role).where(user_roles.c.user_id == row.id))}
    grants = set(person.grants)
    kept = held - managed
    add, remove = sorted(grants - held), sorted((held & managed) - grants)
    if row is None:
        if not grants:
            return SyncResult((), (), (), False)
        user_id = inserted_id(conn.execute(users.insert().values(
            username=person.username, display_name=person.display_name, password_hash=None, active=True,
            created_at=now)))
    else:
        user_id = row.id
        if row.display_name != person.display_name:
            conn.execute(users.update().where(users.c.id == user_id).values(display_name=person.display_name))
    for court, role in remove:
        conn.execute(user_roles.delete().where(user_roles.c.user_id == user_id, user_roles.c.court == court,
                                               user_roles.c.role == role))
    if add:
        conn.execute(user_roles.insert(), [dict(user_id=user_id, court=c, role=r) for c, r in add])
    return SyncResult(tuple(sorted(kept | grants)), tuple(add), tuple(remove), row is None)


def from_environ(env: Mapping[str, str]) -> Directory | None:
    """The configured directory, or None; a misconfiguration raises ``DirectoryConfigError`` at start."""
    settings = settings_from(env)
    return Directory(settings) if settings else None
