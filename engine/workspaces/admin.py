"""Account administration (系统管理): the users an administrator may see and change, court by court.

An administrator holds the ``admin`` role in some courts and manages those courts only: they see the users who
hold a role there (and users who hold no role anywhere, so a user is never lost), grant and take roles in those
courts (roles in other courts are left alone), and deactivate a user only when all the user's roles are in their
courts. A deactivated user cannot log in, holds no roles (``accounts.roles_of``), and their API tokens stop working.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from engine.commands.office import OfficeWrite
from engine.court.accounts import upsert_user
from engine.court.roles import ROLES
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.store.tables import user_roles, users
from engine.views import OpenPage

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class UserRow:
    username: str
    display_name: str
    active: bool
    grants: tuple              # (court, role) in the administrator's courts
    elsewhere: tuple           # courts outside them where the user holds roles
    created_at: datetime


def _rows(conn, where, courts, limit: int | None = None, offset: int = 0) -> list[UserRow]:
    q = sa.select(users).where(where).order_by(users.c.username)
    if limit:
        q = q.limit(limit).offset(offset)
    found = conn.execute(q).all()
    grants = conn.execute(sa.select(user_roles.c.user_id, user_roles.c.court, user_roles.c.role)
                          .where(user_roles.c.user_id.in_([u.id for u in found]))).all()
    out = []
    for u in found:
        mine = tuple(sorted((g.court, g.role) for g in grants if g.user_id == u.id and g.court in courts))
        other = tuple(sorted({g.court for g in grants if g.user_id == u.id and g.court not in courts}))
        out.append(UserRow(u.username, u.display_name, u.active, mine, other, u.created_at))
    return out


def visible_users(courts):
    """Users with a role in ``courts``, or with no role at all."""
    held = sa.select(user_roles.c.user_id)
    return sa.or_(users.c.id.in_(held.where(user_roles.c.court.in_(list(courts)))), users.c.id.not_in(held))


def user_page(conn, courts, query: str | None = None, page: int = 1, per_page: int = 50) -> OpenPage:
    where = visible_users(courts)
    if query and query.strip():
        text = query.strip()
        where = sa.and_(where, sa.or_(users.c.username.contains(text, autoescape=True),
                                      users.c.display_name.contains(text, autoescape=True)))
    page = max(1, page)
    rows = _rows(conn, where, courts, per_page + 1, (page - 1) * per_page)
    return OpenPage(tuple(rows[:per_page]), page, per_page, len(rows) > per_page)


def get_user(conn, username: str, courts) -> UserRow:
    rows = _rows(conn, sa.and_(users.c.username == username, visible_users(courts)), courts)
    if not rows:
        raise NotFound(f"user '{username}' was not found in your courts")
    return rows[0]


def _check_grants(grants, courts) -> list[tuple[str, str]]:
    grants = sorted(set(grants))
    outside = sorted({c for c, _r in grants if c not in courts})
    if outside:
        raise Forbidden(f"you administer {', '.join(sorted(courts))}, not {', '.join(outside)}")
    unknown = sorted({r for _c, r in grants if r not in ROLES})
    if unknown:
        raise InvalidInput(f"unknown role(s): {', '.join(unknown)}", {"roles": "unknown"})
    return grants


def create_user(conn, username: str, display_name: str, password_hash: str | None, grants, courts,
                now: datetime) -> UserRow:
    username, display_name = (username or "").strip(), (display_name or "").strip()
    errors = {}
    if not USERNAME.match(username):
        errors["username"] = "2–64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
    elif conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
        errors["username"] = f"'{username}' is taken"
    if not display_name:
        errors["display_name"] = "required"
    if not password_hash:
        errors["password"] = f"at least {MIN_PASSWORD} characters"
    if not grants:
        errors["roles"] = "grant at least one role"
    if errors:
        raise InvalidInput("the user was not created", errors)
    upsert_user(conn, username, display_name[:128], _check_grants(grants, courts), password_hash, now)
    return get_user(conn, username, courts)


def set_roles(conn, username: str, grants, courts) -> UserRow:
    """Replace the user's roles in ``courts`` (the administrator's) with ``grants``; other courts keep theirs."""
    row = get_user(conn, username, courts)
    grants = _check_grants(grants, courts)
    user_id = conn.execute(sa.select(users.c.id).where(users.c.username == row.username)).scalar()
    conn.execute(user_roles.delete().where(user_roles.c.user_id == user_id, user_roles.c.court.in_(list(courts))))
    if grants:
        conn.execute(user_roles.insert(), [dict(user_id=user_id, court=c, role=r) for c, r in grants])
    return get_user(conn, username, courts)


def set_active(conn, username: str, active: bool, courts, actor: str) -> UserRow:
    row = get_user(conn, username, courts)
    if row.elsewhere and not active:
        raise Forbidden(f"'{username}' also works in {', '.join(row.elsewhere)}: ask that court's administrator, "
                        "or take only your court's roles")
    if username == actor and not active:
        raise InvalidInput("you cannot deactivate yourself", {"active": "self"})
    # deactivating also ends the user's sessions (engine/workspaces/lockout.py: the session epoch)
    conn.execute(users.update().where(users.c.username == username).values(
        active=active, **({} if active else {"session_epoch": users.c.session_epoch + 1})))
    return get_user(conn, username, courts)


def set_password(conn, username: str, password_hash: str, courts) -> None:
    row = get_user(conn, username, courts)
    if row.elsewhere:
        raise Forbidden(f"'{username}' also works in {', '.join(row.elsewhere)}: ask that court's administrator")
    # a reset also ends every session the user holds, copied cookies included (the session epoch)
    conn.execute(users.update().where(users.c.username == username).values(
        password_hash=password_hash, session_epoch=users.c.session_epoch + 1))


class Administration:
    """``Engine.admin``: every method takes the administrator's courts and stays within them."""

    def __init__(self, executor):
        self.executor = executor

    def users(self, courts, query: str | None = None, page: int = 1, per_page: int = 50) -> OpenPage:
        return self.executor.read(lambda conn: user_page(conn, courts, query, page, per_page))

    def user(self, username: str, courts) -> UserRow:
        return self.executor.read(lambda conn: get_user(conn, username, courts))

    def create_user(self, username: str, display_name: str, password_hash: str | None, grants, courts,
                    actor: str = "system") -> UserRow:
        return self._run("account.create", actor, username, courts, {"roles": _grant_list(grants)},
                         lambda conn, now: create_user(conn, username, display_name, password_hash, grants, courts,
                                                       now))

    def set_roles(self, username: str, grants, courts, actor: str = "system") -> UserRow:
        return self._run("account.roles", actor, username, courts, {"roles": _grant_list(grants)},
                         lambda conn, _now: set_roles(conn, username, grants, courts))

    def set_active(self, username: str, active: bool, courts, actor: str) -> UserRow:
        return self._run("account.activate" if active else "account.deactivate", actor, username, courts, {},
                         lambda conn, _now: set_active(conn, username, active, courts, actor))

    def set_password(self, username: str, password_hash: str, courts, actor: str = "system") -> None:
        self._run("account.password", actor, username, courts, {},
                  lambda conn, _now: set_password(conn, username, password_hash, courts))

    def _run(self, action: str, actor: str, username: str, courts, data: dict, apply):
        """One command per change; the office log records who changed whom, in which of their courts."""
        courts = sorted(courts)
        return self.executor.run(OfficeWrite(apply, action, actor, username, courts[0] if len(courts) == 1 else None,
                                             {"courts": courts, **data}))


def _grant_list(grants) -> list:
    return sorted([str(court), str(role)] for court, role in grants)
