"""Users and the roles they hold per court (who may work in which lane)."""
from __future__ import annotations

import functools
import secrets
from datetime import datetime

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from engine.court.roles import ROLES
from engine.errors import InvalidInput
from engine.store.database import inserted_id
from engine.store.tables import user_roles, users


def upsert_user(conn: sa.Connection, username: str, display_name: str, roles: list[tuple[str, str]],
                password_hash: str | None, now: datetime) -> int:
    """Create or update a user and replace their (court, role) grants."""
    unknown = sorted({role for _court, role in roles} - set(ROLES))
    if unknown:
        raise InvalidInput(f"unknown role(s) {', '.join(unknown)}; known roles: {', '.join(ROLES)}")
    user_id = conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar()
    if user_id is None:
        user_id = inserted_id(conn.execute(users.insert().values(username=username, display_name=display_name,
                                                     password_hash=password_hash, active=True,
                                                     created_at=now)))
    else:
        values = {"display_name": display_name}
        if password_hash:
            values["password_hash"] = password_hash
        conn.execute(users.update().where(users.c.id == user_id).values(**values))
    conn.execute(user_roles.delete().where(user_roles.c.user_id == user_id))
    if roles:
        conn.execute(user_roles.insert(), [dict(user_id=user_id, court=c, role=r) for c, r in sorted(set(roles))])
    return user_id


def roles_of(conn: sa.Connection, username: str) -> list[tuple[str, str]]:
    """The user's ``(court, role)`` grants; none while the user is deactivated."""
    rows = conn.execute(sa.select(user_roles.c.court, user_roles.c.role)
                        .join(users, users.c.id == user_roles.c.user_id)
                        .where(users.c.username == username, users.c.active.is_(True)))
    return sorted((r.court, r.role) for r in rows)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password by the default method, checked when there is no account (or no password), so
    an unknown name costs the same time as a known one (no account enumeration by timing)."""
    return generate_password_hash(secrets.token_hex(16))


def check_password(conn, username: str, password: str) -> int | None:
    """The one password check: the account's session epoch if ``password`` is its local password and the account
    is active, else None. Always hashes once, whatever the outcome."""
    row = conn.execute(sa.select(users.c.password_hash, users.c.active, users.c.session_epoch)
                       .where(users.c.username == username)).first() if username else None
    stored = row.password_hash if row is not None and row.password_hash else _dummy_hash()
    matches = check_password_hash(stored, password)
    if row is None or not row.password_hash or not row.active or not matches:
        return None
    return int(row.session_epoch)
