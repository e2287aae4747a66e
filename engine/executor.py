"""Runs a command in one transaction: the only place that begins, commits or rolls back.

The command sees the engine's clock and holiday calendar through context variables (so SpiffWorkflow's timers
and the legal-time functions use them too). A unique-key clash on the event chain, like a lost version check,
means another writer got there first: it is reported as ``ConcurrentModification``.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine import clock as clocks
from engine.errors import ConcurrentModification
from engine.timers import using_calendar
from engine.unit_of_work import UnitOfWork


class Executor:
    def __init__(self, db: sa.Engine, clock: clocks.Clock, calendar_source):
        self.db = db
        self.clock = clock
        self._calendar_source = calendar_source
        self._definitions: dict = {}

    def run(self, command):
        with clocks.using(self.clock), using_calendar(self._calendar_source()):
            with self.db.connect().execution_options(zhixing_write=True) as conn:
                try:
                    with conn.begin():
                        return command.execute(UnitOfWork(conn, self.clock.now(), self._definitions))
                except IntegrityError as exc:
                    if "events" in str(exc.orig) or "seq" in str(exc.orig):
                        raise ConcurrentModification("the case was changed by someone else meanwhile; "
                                                     "reload it and try again") from exc
                    raise

    def read(self, fn):
        """Run a read-only query function ``fn(conn)``."""
        with self.db.connect() as conn:
            return fn(conn)
