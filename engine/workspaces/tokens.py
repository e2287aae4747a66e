"""API tokens (接口令牌): bearer secrets with which an integration acts as a user, optionally narrowed to some of
the user's roles and courts.

Only the SHA-256 of a token is stored (a token is 32 random bytes, so a fast hash is enough: there is nothing to
guess); the secret is shown once, when an administrator creates it. A token's grants are worked out on every
request from the user's *current* roles, so taking a role from the user takes it from their tokens, and a
deactivated user's tokens stop working at once.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from engine.commands.office import OfficeWrite
from engine.court.accounts import roles_of
from engine.court.roles import ROLES
from engine.errors import InvalidInput, NotFound
from engine.store.tables import api_tokens, user_roles, users
from engine.workspaces.admin import visible_users

PREFIX = "zx_"                  # makes a leaked token easy to recognise (and to search for in logs and repos)
TOUCH_EVERY = timedelta(minutes=5)     # last_used_at is written at most this often: reads stay reads


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenView:
    id: int
    username: str
    name: str
    hint: str                     # the first characters of the secret, to tell tokens apart
    roles: tuple                  # the scope: () = all the user's roles
    courts: tuple                 # () = all the user's courts
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True)
class Identity:
    """Who a presented token acts for, and the ``(court, role)`` grants it carries now."""

    username: str
    token_id: int
    grants: tuple
    last_used_at: datetime | None = None


def _view(r) -> TokenView:
    return TokenView(r.id, r.username, r.name, r.hint, tuple(r.roles or ()), tuple(r.courts or ()), r.created_by,
                     r.created_at, r.expires_at, r.last_used_at, r.revoked_at)


_COLUMNS = (api_tokens.c.id, users.c.username, api_tokens.c.name, api_tokens.c.hint, api_tokens.c.roles,
            api_tokens.c.courts, api_tokens.c.created_by, api_tokens.c.created_at, api_tokens.c.expires_at,
            api_tokens.c.last_used_at, api_tokens.c.revoked_at)


def create(conn, username: str, name: str, actor: str, now: datetime, roles=(), courts=(),
           days: int | None = None) -> tuple[TokenView, str]:
    """Make a token for ``username``; returns its view and the secret (never stored, never shown again)."""
    user_id = conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar()
    if user_id is None:
        raise NotFound(f"user '{username}' does not exist")
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = "give the token a name (which system uses it)"
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        errors["roles"] = f"unknown role(s): {', '.join(unknown)}"
    if days is not None and days <= 0:
        errors["days"] = "a token lives at least one day"
    # a token narrows its user's grants, never widens them: only roles and courts the user holds now
    held = roles_of(conn, username)
    not_held = sorted(set(roles) - {role for _court, role in held} - set(unknown))
    if not_held:
        errors["roles"] = f"'{username}' does not hold the role(s) {', '.join(not_held)}"
    outside = sorted(set(courts) - {court for court, _role in held})
    if outside:
        errors["courts"] = f"'{username}' holds no role in {', '.join(outside)}"
    if errors:
        raise InvalidInput("the token was not created: " + "; ".join(errors.values()), errors)
    secret = PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(api_tokens.insert().values(
        user_id=user_id, name=name[:128], token_hash=digest(secret), hint=secret[:len(PREFIX) + 4],
        roles=sorted(set(roles)) or None, courts=sorted(set(courts)) or None, created_by=actor, created_at=now,
        expires_at=now + timedelta(days=days) if days else None)).inserted_primary_key[0]
    return get(conn, token_id), secret


def get(conn, token_id: int) -> TokenView:
    row = conn.execute(sa.select(*_COLUMNS).join(users, users.c.id == api_tokens.c.user_id)
                       .where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise NotFound(f"API token {token_id} does not exist")
    return _view(row)


def listing(conn, courts=None, username: str | None = None) -> list[TokenView]:
    """Tokens, newest first; with ``courts``, only those of the users an administrator of them sees."""
    q = sa.select(*_COLUMNS).join(users, users.c.id == api_tokens.c.user_id)
    if courts is not None:
        q = q.where(visible_users(courts))
    if username is not None:
        q = q.where(users.c.username == username)
    return [_view(r) for r in conn.execute(q.order_by(api_tokens.c.id.desc()))]


def revoke(conn, token_id: int, actor: str, now: datetime) -> TokenView:
    get(conn, token_id)
    conn.execute(api_tokens.update().where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                 .values(revoked_at=now, revoked_by=actor))
    return get(conn, token_id)


def authenticate(conn, secret: str, now: datetime) -> Identity | None:
    """The identity of a presented secret, or ``None`` when it is unknown, revoked, expired or its user is
    deactivated (one answer for all: the caller learns nothing about which)."""
    if not secret.startswith(PREFIX):
        return None
    # one statement with the user's grants (a row per grant): every API request pays for this read
    rows = conn.execute(sa.select(api_tokens.c.id, api_tokens.c.roles, api_tokens.c.courts,
                                  api_tokens.c.expires_at, api_tokens.c.last_used_at, users.c.username,
                                  user_roles.c.court, user_roles.c.role)
                        .join(users, users.c.id == api_tokens.c.user_id)
                        .outerjoin(user_roles, user_roles.c.user_id == users.c.id)
                        .where(api_tokens.c.token_hash == digest(secret), api_tokens.c.revoked_at.is_(None),
                               users.c.active.is_(True))).all()
    row = rows[0] if rows else None
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    grants = tuple(sorted((r.court, r.role) for r in rows if r.court is not None
                          and (not row.roles or r.role in row.roles) and (not row.courts or r.court in row.courts)))
    return Identity(row.username, row.id, grants, row.last_used_at)


def touch(conn, token_id: int, now: datetime) -> None:
    conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=now))


class Tokens:
    """``Engine.tokens``: create, list, revoke and check API tokens."""

    def __init__(self, executor):
        self.executor = executor

    def create(self, username: str, name: str, actor: str, roles=(), courts=(),
               days: int | None = None) -> tuple[TokenView, str]:
        return self.executor.run(OfficeWrite(
            lambda conn, now: create(conn, username, name, actor, now, roles, courts, days), "token.create", actor,
            username, data={"name": name, "roles": sorted(roles), "courts": sorted(courts), "days": days}))

    def revoke(self, token_id: int, actor: str) -> TokenView:
        return self.executor.run(OfficeWrite(lambda conn, now: revoke(conn, token_id, actor, now), "token.revoke",
                                             actor, str(token_id)))

    def get(self, token_id: int) -> TokenView:
        return self.executor.read(lambda conn: get(conn, token_id))

    def list(self, courts=None, username: str | None = None) -> list[TokenView]:
        return self.executor.read(lambda conn: listing(conn, courts, username))

    def authenticate(self, secret: str) -> Identity | None:
        """Check a presented secret; note when the token was last used (at most every ``TOUCH_EVERY``)."""
        now = self.executor.clock.now()
        identity = self.executor.read(lambda conn: authenticate(conn, secret, now))
        if identity and (identity.last_used_at is None or now - identity.last_used_at > TOUCH_EVERY):
            self.executor.run(OfficeWrite(lambda conn, at: touch(conn, identity.token_id, at)))
        return identity
