"""Sign-in security (ASVS V2.2, V3.3, V7): the sign-in log, the lockout per account and per address, and the
session epoch that makes a session revocable.

Every failed login is a row of ``auth_events`` (the audit trail of sign-ins; a court administrator reads it on
``/admin/security``). An account name is locked after ``ACCOUNT_LIMIT`` failures in ``WINDOW``, an address after
``ADDRESS_LIMIT``; a success for the account, an administrator's lift, or time (failures older than ``WINDOW``
stop counting) unlocks it. Names that are not accounts lock the same way, so a lockout says nothing about which
accounts exist. A refused attempt is logged but not counted, so the lock does not grow while it is hammered.

A session carries the user's ``session_epoch`` from login; a request whose session holds another epoch is
logged out. Logout, a password reset and a deactivation raise the epoch: every copy of the old cookie dies at
once. Chosen over a server-side session table: one integer per user, read with the user on each request, no
table of sessions to clean up; the price is that logging out ends the user's sessions in every browser.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from engine.commands.office import OfficeWrite
from engine.store.tables import auth_events, users
from engine.workspaces.admin import visible_users

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5            # failures of one account name in WINDOW
ADDRESS_LIMIT = 20           # failures from one address in WINDOW (spraying many names)

FAILED, REFUSED, OK, LOGOUT, LIFTED, ENDED = ("login_failed", "login_locked", "login_ok", "logout", "lifted",
                                              "sessions_ended")


@dataclass(frozen=True)
class Lock:
    kind: str                # "account" | "address"
    key: str                 # the user name or the address
    failures: int
    last_failure: datetime
    until: datetime          # when it lifts by itself (if no more failures)


@dataclass(frozen=True)
class AuthEvent:
    at: datetime
    kind: str
    username: str | None
    client: str | None
    actor: str


def _cut(text: str | None) -> str | None:
    return None if text is None else text[:64]


def log(conn, now: datetime, kind: str, username: str | None, client: str | None, actor: str) -> None:
    conn.execute(auth_events.insert().values(at=now, kind=kind, username=_cut(username), client=_cut(client),
                                             actor=_cut(actor) or "-"))


def _failures(conn, column, key: str, now: datetime, resets: tuple[str, ...], limit: int):
    """The failures for ``key`` in the window since the last reset: their count and times (newest last)."""
    since = now - WINDOW
    last_reset = conn.execute(sa.select(sa.func.max(auth_events.c.id)).where(          # ids: the order written
        column == key, auth_events.c.kind.in_(resets), auth_events.c.at >= since)).scalar() or 0
    times = conn.execute(sa.select(auth_events.c.at).where(
        column == key, auth_events.c.kind == FAILED, auth_events.c.at > since, auth_events.c.id > last_reset)
        .order_by(auth_events.c.id.desc()).limit(limit)).scalars().all()
    return list(reversed(times))


def _lock(kind: str, key: str, times: list, limit: int) -> Lock | None:
    if len(times) < limit:
        return None
    # it lifts when the oldest of the last ``limit`` failures leaves the window
    return Lock(kind, key, len(times), times[-1], times[0] + WINDOW)


def locks_on(conn, username: str, client: str, now: datetime) -> list[Lock]:
    """The locks that bar this attempt (the account name's, the address's), none if it may try."""
    username, client = _cut(username) or "", _cut(client) or "-"
    found = [_lock("account", username, _failures(conn, auth_events.c.username, username, now, (OK, LIFTED),
                                                  ACCOUNT_LIMIT), ACCOUNT_LIMIT),
             _lock("address", client, _failures(conn, auth_events.c.client, client, now, (LIFTED,), ADDRESS_LIMIT),
                   ADDRESS_LIMIT)]
    return [lock for lock in found if lock]


def current_locks(conn, courts, now: datetime) -> list[Lock]:
    """Locks now in force that an administrator of ``courts`` may see: accounts of the users they manage (or
    names that are no account), and every address (an address belongs to no court)."""
    since = now - WINDOW
    names = conn.execute(sa.select(auth_events.c.username).where(
        auth_events.c.kind == FAILED, auth_events.c.at >= since, auth_events.c.username.is_not(None))
        .group_by(auth_events.c.username).having(sa.func.count() >= ACCOUNT_LIMIT)).scalars().all()
    visible = set(conn.execute(sa.select(users.c.username).where(
        users.c.username.in_(names), visible_users(courts))).scalars()) if names else set()
    known = set(conn.execute(sa.select(users.c.username).where(users.c.username.in_(names))).scalars()) \
        if names else set()
    addresses = conn.execute(sa.select(auth_events.c.client).where(
        auth_events.c.kind == FAILED, auth_events.c.at >= since, auth_events.c.client.is_not(None))
        .group_by(auth_events.c.client).having(sa.func.count() >= ADDRESS_LIMIT)).scalars().all()
    out = []
    for name in sorted(names):
        if name in visible or name not in known:
            lock = _lock("account", name, _failures(conn, auth_events.c.username, name, now, (OK, LIFTED),
                                                    ACCOUNT_LIMIT), ACCOUNT_LIMIT)
            out += [lock] if lock else []
    for address in sorted(addresses):
        lock = _lock("address", address, _failures(conn, auth_events.c.client, address, now, (LIFTED,),
                                                   ADDRESS_LIMIT), ADDRESS_LIMIT)
        out += [lock] if lock else []
    return out


def recent(conn, courts, limit: int = 100) -> list[AuthEvent]:
    """The latest sign-in events an administrator of ``courts`` may see (their users', and unknown names)."""
    own = sa.select(users.c.username).where(visible_users(courts))
    anyone = sa.select(users.c.username)
    rows = conn.execute(sa.select(auth_events).where(sa.or_(
        auth_events.c.username.in_(own), auth_events.c.username.not_in(anyone), auth_events.c.username.is_(None)))
        .order_by(auth_events.c.id.desc()).limit(limit)).all()
    return [AuthEvent(r.at, r.kind, r.username, r.client, r.actor) for r in rows]


def end_sessions(conn, username: str) -> None:
    """Raise the user's session epoch: every session they hold is logged out on its next request."""
    conn.execute(users.update().where(users.c.username == username)
                 .values(session_epoch=users.c.session_epoch + 1))


class SignIn:
    """``Engine.signin``: what the login page, logout and the administrators' security page need."""

    def __init__(self, executor):
        self.executor = executor

    def _write(self, fn):
        """Sign-in bookkeeping is its own audit trail (``auth_events``), so the office write logs nothing more."""
        return self.executor.run(OfficeWrite(fn))

    def user(self, username: str):
        """``(password_hash, active, session_epoch)`` of an account, or None."""
        return self.executor.read(lambda conn: conn.execute(
            sa.select(users.c.password_hash, users.c.active, users.c.session_epoch)
            .where(users.c.username == username)).first())

    def epoch(self, username: str) -> int | None:
        """The session epoch of an active account (None: the account is gone or deactivated)."""
        return self.executor.read(lambda conn: conn.execute(
            sa.select(users.c.session_epoch).where(users.c.username == username, users.c.active.is_(True)))
            .scalar())

    def locks_on(self, username: str, client: str) -> list[Lock]:
        now = self.executor.clock.now()
        return self.executor.read(lambda conn: locks_on(conn, username, client, now))

    def failed(self, username: str, client: str) -> None:
        self._write(lambda conn, now: log(conn, now, FAILED, username, client, username or "-"))

    def refused(self, username: str, client: str) -> None:
        self._write(lambda conn, now: log(conn, now, REFUSED, username, client, username or "-"))

    def succeeded(self, username: str, client: str) -> None:
        self._write(lambda conn, now: log(conn, now, OK, username, client, username))

    def logout(self, username: str, client: str) -> None:
        def act(conn, now):
            log(conn, now, LOGOUT, username, client, username)
            end_sessions(conn, username)
        self._write(act)

    def locks(self, courts) -> list[Lock]:
        now = self.executor.clock.now()
        return self.executor.read(lambda conn: current_locks(conn, courts, now))

    def recent(self, courts, limit: int = 100) -> list[AuthEvent]:
        return self.executor.read(lambda conn: recent(conn, courts, limit))

    def lift(self, kind: str, key: str, courts, actor: str) -> bool:
        """Lift a lock an administrator of ``courts`` sees; False if there is none such."""
        def act(conn, now):
            if not any(lock.kind == kind and lock.key == key for lock in current_locks(conn, courts, now)):
                return False
            log(conn, now, LIFTED, key if kind == "account" else None, key if kind == "address" else None, actor)
            return True
        return self._write(act)
