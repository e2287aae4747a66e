"""The sandboxes' memory: one small SQLite file per engine database, ``<dir>/<database id>/sandbox.sqlite3``
under ``ZHIXING_SANDBOX_DIR`` (default ``var/sandbox/``).

Never the engine's database: a sandbox stands in for an outside system, and outside systems keep their own
books (and their own locks: a local sandbox is called inside the engine's write transaction, which on SQLite
holds the database's only write lock). But the memory belongs to the database it serves: the engine hands its
database's identity to each call (``HandlerContext.database_id``), so a fresh database meets fresh sandboxes
(no flat auctioned for a case that no longer exists) and a restored backup finds the memory saved with it. A call
without an identity (handlers called directly, in their tests) uses ``<dir>/sandbox.sqlite3``. Two tables:
``calls`` remembers each successful side effect by idempotency key (so a retried job gets
the same answer and no second freeze or payout), and ``records`` holds the sandbox's state as small JSON
documents (accounts, measures, listings, auctions). ``once`` runs a side effect and its bookkeeping in one
``BEGIN IMMEDIATE`` transaction, so concurrent workers cannot both pass a balance check.

The file is in WAL mode with ``synchronous=NORMAL``: a commit does not wait for the disk, so workers hold the
write lock for microseconds, not an fsync (a power cut may lose the last calls; their answers are derived from
the idempotency key, so a retried call gets the same one). Each thread keeps its connection open.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from handlers.base import BusinessRejection, HandlerContext
from handlers.timeutil import stamp

T = TypeVar("T")

FILE_NAME = "sandbox.sqlite3"
_OPEN = threading.local()      # this thread's connections: {path: (inode, connection)}
SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (system TEXT, key TEXT, operation TEXT, fingerprint TEXT, result TEXT, at TEXT,
                                  PRIMARY KEY (system, key));
CREATE TABLE IF NOT EXISTS records (system TEXT, kind TEXT, id TEXT, data TEXT, PRIMARY KEY (system, kind, id));
"""


def sandbox_dir() -> Path:
    return Path(os.environ.get("ZHIXING_SANDBOX_DIR") or "var/sandbox")


def world_dir(database_id: str | None, directory: Path | None = None) -> Path:
    """The folder holding the sandboxes' memory for the engine database ``database_id``."""
    root = directory or sandbox_dir()
    if database_id is None:
        return root
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", database_id):
        raise ValueError(f"not a database id: {database_id!r}")
    return root / database_id


class Records:
    """The state of one system inside an open transaction."""

    def __init__(self, conn: sqlite3.Connection, system: str):
        self.conn, self.system = conn, system

    def get(self, kind: str, rid: str) -> dict | None:
        row = self.conn.execute("SELECT data FROM records WHERE system=? AND kind=? AND id=?",
                                (self.system, kind, rid)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, rid: str, data: dict) -> dict:
        self.conn.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                          (self.system, kind, rid, json.dumps(data, ensure_ascii=False, sort_keys=True)))
        return data

    def find(self, kind: str, **equal: object) -> list[dict]:
        """All records of ``kind`` whose fields equal ``equal``, in insertion order (sandbox-sized data)."""
        rows = self.conn.execute("SELECT data FROM records WHERE system=? AND kind=? ORDER BY rowid",
                                 (self.system, kind)).fetchall()
        found = (json.loads(r[0]) for r in rows)
        return [d for d in found if all(d.get(k) == v for k, v in equal.items())]


def _connection(path: Path) -> sqlite3.Connection:
    """This thread's connection to the file, kept open (closing the last one checkpoints the WAL: a disk write per
    call); a new one when the file was removed or replaced (tests give every case a fresh directory)."""
    conns = _OPEN.__dict__.setdefault("conns", {})
    try:
        inode = path.stat().st_ino
    except FileNotFoundError:
        inode = None
    held = conns.get(path)
    if held is not None and held[0] == inode:
        return held[1]
    if held is not None:
        conns.pop(path)[1].close()
    while len(conns) >= 4:              # a few sandbox directories per thread at most (tests make many)
        conns.pop(next(iter(conns)))[1].close()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    conns[path] = (path.stat().st_ino, conn)
    return conn


class SandboxStore:
    def __init__(self, system: str, directory: Path | None = None):
        self.system = system
        self.directory = directory

    def path(self, ctx: HandlerContext | None = None) -> Path:
        """The file of the world ``ctx`` belongs to (resolved per call: the environment may change in tests)."""
        return world_dir(ctx.database_id if ctx else None, self.directory) / FILE_NAME

    @contextmanager
    def transaction(self, ctx: HandlerContext | None = None) -> Iterator[Records]:
        """One exclusive transaction: committed when the block ends, rolled back if it raises."""
        conn = _connection(self.path(ctx))
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Records(conn, self.system)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def once(self, ctx: HandlerContext, operation: str, params: dict, act: Callable[[Records], dict]) -> dict:
        """Run ``act`` once per idempotency key; later calls with the key return the first result.

        A refusal (an exception) is not remembered: the same key may succeed once the state allows it.

        :raises BusinessRejection: the key was used before for another operation or other input.
        """
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
        with self.transaction(ctx) as records:
            row = records.conn.execute("SELECT operation, fingerprint, result FROM calls WHERE system=? AND key=?",
                                       (self.system, ctx.idempotency_key)).fetchone()
            if row:
                if (row[0], row[1]) != (operation, fingerprint):
                    raise BusinessRejection(
                        f"idempotency key {ctx.idempotency_key!r} was already used for {self.system} {row[0]} "
                        "with other input", {"field": "idempotency_key", "operation": row[0]})
                return json.loads(row[2])
            result = act(records)
            records.conn.execute("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?)",
                                 (self.system, ctx.idempotency_key, operation, fingerprint,
                                  json.dumps(result, ensure_ascii=False), stamp(ctx.now)))
            return result

    def read(self, fn: Callable[[Records], T], ctx: HandlerContext | None = None) -> T:
        with self.transaction(ctx) as records:
            return fn(records)
