"""Users and the roles they hold per court (who may work in which lane)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from werkzeug.security import check_password_hash

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


def check_password(conn, username: str, password: str) -> bool:
    row = conn.execute(sa.select(users.c.password_hash, users.c.active).where(users.c.username == username)).first()
    return bool(row and row.active and row.password_hash and check_password_hash(row.password_hash, password))
