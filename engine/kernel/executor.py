"""Runs a command in one transaction: the only place that begins, commits or rolls back.

The command sees the engine's clock and holiday calendar through context variables (so SpiffWorkflow's timers
and the legal-time functions use them too). A unique-key clash on the event chain, like a lost version check,
means another writer got there first: it is reported as ``ConcurrentModification``.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine.errors import ConcurrentModification
from engine.kernel.unit_of_work import UnitOfWork
from engine.kernel.workflow import dispose
from engine.legaltime import clock as clocks
from engine.legaltime.timers import using_calendar
from engine.store.identity import database_id


class InstanceCache:
    """Workflows this process saved last, keyed by instance and row version.

    A hit skips deserializing; the row's ``version`` proves the cached workflow is what the store holds (any other
    process's write bumps it). An entry is taken out while a command uses it and put back only after its commit,
    so two threads never share a workflow and a rolled-back command leaves nothing behind. Nothing outside holds a
    workflow in the cache, so one that is evicted or stale is disposed of at once (``engine.kernel.workflow.dispose``).
    """

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def holds(self, instance_id: int) -> bool:
        return instance_id in self._entries

    def take(self, instance_id: int, version: int):
        with self._lock:
            entry = self._entries.pop(instance_id, None)
        if entry is None:
            return None
        if entry[0] != version:         # another process changed the case: this copy is of no use any more
            dispose(entry[1])
            return None
        return entry[1:]

    def put(self, instance_id: int, version: int, workflow, snapshot) -> None:
        if self.size <= 0:
            return
        with self._lock:
            replaced = self._entries.pop(instance_id, None)
            self._entries[instance_id] = (version, workflow, snapshot)
            dropped = [self._entries.popitem(last=False)[1] for _ in range(len(self._entries) - self.size)]
        for _version, old, _snapshot in dropped + ([replaced] if replaced else []):
            if old is not workflow:
                dispose(old)


class Executor:
    def __init__(self, db: sa.Engine, clock: clocks.Clock, calendar_source):
        self.db = db
        self.clock = clock
        self._calendar_source = calendar_source
        self._definitions: dict = {}
        self._settings: dict = {}
        self.instances = InstanceCache(int(os.environ.get("ZHIXING_INSTANCE_CACHE", "512")))
        self._database_id: str | None = None

    @property
    def database_id(self) -> str | None:
        """This database's identity (``engine.store.identity``), read once: handlers key outside state by it."""
        if self._database_id is None:
            self._database_id = self.read(database_id)
        return self._database_id

    def run(self, command):
        with clocks.using(self.clock), using_calendar(self._calendar_source()):
            with self.db.connect().execution_options(zhixing_write=True) as conn:
                uow = UnitOfWork(conn, self.clock.now(), self._definitions, self.instances, self._settings,
                                 self.database_id)
                try:
                    with conn.begin():
                        result = command.execute(uow)
                except IntegrityError as exc:
                    if "events" in str(exc.orig) or "seq" in str(exc.orig):
                        raise ConcurrentModification("the case was changed by someone else meanwhile; "
                                                     "reload it and try again") from exc
                    raise
                for handle in uow.saved:
                    self.instances.put(handle.id, handle.version, handle.workflow, handle.before)
                return result

    def read(self, fn):
        """Run a read-only query function ``fn(conn)``."""
        with self.db.connect() as conn:
            return fn(conn)
