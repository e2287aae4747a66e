"""Signing in with the court's directory (统一身份认证): ask the directory (``engine/court/directory.py``), then bring
the account up to date as one office write, recorded in the office log as ``account.directory_login``."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine.commands.office import OfficeWrite
from engine.court.directory import Directory, DirectoryUser, NoRole, SyncResult, WrongCredentials, sync_account
from engine.errors import ConcurrentModification
from engine.store.tables import users
from engine.workspaces.admin import USERNAME

log = logging.getLogger("zhixing.directory")


class DirectorySignIn:
    def __init__(self, executor, directory: Directory):
        self.executor = executor
        self.directory = directory

    def managed(self) -> list[tuple[str, str]]:
        """The (court, role) pairs the mapping names: the ones a directory login sets."""
        return sorted(self.directory.settings.mapping.managed)

    def reach(self) -> list[tuple[str, str | None]]:
        return self.directory.reach()

    def lookup(self, username: str, password: str) -> DirectoryUser:
        """The user's entry, groups and grants, without touching the account (``zhixing directory check``)."""
        return self.directory.authenticate(username, password)

    def login(self, username: str, password: str) -> str | None:
        """The zhixing user name to sign in, or None for a wrong name or password; raises the directory's
        ``directory.unavailable`` and ``directory.no_role`` errors."""
        try:
            person = self.directory.authenticate(username, password)
        except WrongCredentials:
            return None
        if not USERNAME.match(person.username):
            log.warning("directory login of %r refused: %r cannot be a zhixing user name (2–64 lower-case letters, "
                        "digits, '.', '_' or '-'); set ZHIXING_LDAP_USERNAME_ATTR", person.dn, person.username)
            raise NoRole(f"the directory user name {person.username!r} cannot be used in zhixing")
        if not person.grants and not self.executor.read(lambda conn: conn.execute(
                sa.select(users.c.id).where(users.c.username == person.username)).first()):
            log.info("directory login of %s (%s) refused: no mapped group", person.username, person.dn)
            raise NoRole(f"{person.username}: none of the directory groups gives a role in zhixing")
        managed = self.directory.settings.mapping.managed
        write = OfficeWrite(lambda conn, now: sync_account(conn, person, managed, now), "account.directory_login",
                            person.username, person.username, None,
                            {"dn": person.dn, "grants": [f"{c}:{r}" for c, r in sorted(person.grants)]})
        result: SyncResult | None = None
        for attempt in range(3):
            try:
                result = self.executor.run(write)
                break
            except WrongCredentials:   # a local account, or deactivated: nothing was written
                return None
            except (IntegrityError, ConcurrentModification):
                # two first logins of one user at once (the other created the account), or another office write
                # took the office log's head meanwhile (PostgreSQL): the write is the same when done again
                if attempt == 2:
                    raise
        assert result is not None
        log.info("directory login %s (%s)%s: roles %s", person.username, person.dn,
                 " created" if result.created else "",
                 " ".join([f"+{c}:{r}" for c, r in result.added] + [f"-{c}:{r}" for c, r in result.removed])
                 or "unchanged")
        if not result.roles:
            raise NoRole(f"{person.username}: none of the directory groups gives a role in zhixing")
        return person.username
