"""``zhixing backup`` / ``zhixing restore``: a consistent copy of a court's store, taken while it runs.

A backup is a directory::

    manifest.json       what was copied, when, from which database (its identity), and each file's sha256
    zhixing.db          SQLite: the database, copied by SQLite's online backup API (one self-contained file)
    zhixing.pgdump      PostgreSQL instead: ``pg_dump --format=custom`` (this module calls pg_dump/pg_restore)
    sandbox.sqlite3     the sandboxes' memory of that database (``handlers.sandbox_store``), if it has one
    documents/          the generated documents (``ZHIXING_DOCUMENT_DIR``)

Why this order: the database is copied first, in one read transaction (a snapshot: writers carry on), then the
sandbox memory, then the documents. Both may then hold more than the database copy knows about (calls and files of
steps that committed after the snapshot), never less; a restored case that runs such a step again uses the same
idempotency key and gets the same answer and the same file, exactly as after a crash. The directory appears under
its name only when complete (it is built under a temporary name and renamed).

Restore writes through SQLite's backup API too, so a running process never reads a half-replaced file; but it
refuses a target that holds cases or that another process has open unless forced (``force=True``): processes that
ran on the old content must be restarted.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from engine.errors import ZhixingError
from handlers.sandbox_store import FILE_NAME as SANDBOX_FILE
from handlers.sandbox_store import world_dir

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "zhixing.db"
PG_FILE = "zhixing.pgdump"
DOCUMENTS = "documents"
WAL_DMS_BYTE = 128          # SQLite (unix VFS) keeps a shared lock on this byte of "-shm" while a connection is open


class BackupError(ZhixingError):
    """A backup or restore that cannot be done as asked; the message says why and what to do."""


@dataclass
class Report:
    path: Path
    kind: str
    database_id: str | None
    instances: int
    events: int
    documents: int
    sandbox: bool
    notes: list[str] = field(default_factory=list)


# -- backup ---------------------------------------------------------------------------------------------------
def backup(url: str, target: Path, documents: Path, sandbox_root: Path) -> Report:
    """Copy the database at ``url``, its sandbox memory and the documents into the new directory ``target``."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} exists already: give a new directory (e.g. one named by the date)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        kind = _kind(url)
        if kind == "sqlite":
            _sqlite_copy(_sqlite_path(url, must_exist=True), partial / SQLITE_FILE)
            facts = _facts(f"sqlite:///{partial / SQLITE_FILE}")
        else:
            facts = _pg_dump(url, partial / PG_FILE)
        world = world_dir(facts["database_id"], sandbox_root) / SANDBOX_FILE
        if world.is_file():
            _sqlite_copy(world, partial / SANDBOX_FILE)
        count = _copy_documents(documents, partial / DOCUMENTS)
        manifest = {"format": FORMAT, "kind": kind, "taken_at": datetime.now(UTC).isoformat(),
                    **facts, "documents": count, "files": _hashes(partial)}
        (partial / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        if target.exists():
            target.rmdir()
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Report(target, kind, facts["database_id"], facts["instances"], facts["events"], count, world.is_file())


def _sqlite_copy(source: Path, dest: Path) -> None:
    """One consistent copy of a live SQLite file: the backup API in a single step (one read transaction, so it
    never restarts however busy the writers are), made a self-contained rollback-journal file and checked."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        problem = dst.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"the copy of {source} fails SQLite's check: {problem}")
    finally:
        dst.close()
        src.close()


def _copy_documents(source: Path, dest: Path) -> int:
    """Copy the finished documents (a ``*.tmp`` is a file being written: its finished version comes next time)."""
    count = 0
    if not source.is_dir():
        return 0
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.name.endswith(".tmp"):
            out = dest / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
            count += 1
    return count


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): _sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _facts(url: str) -> dict:
    """What the manifest records of a database: its identity, schema revision and size in cases and events."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return _read_facts(conn)
    finally:
        engine.dispose()


def _read_facts(conn: sa.Connection) -> dict:
    def one(sql):
        try:
            with conn.begin_nested():
                return conn.exec_driver_sql(sql).scalar()
        except sa.exc.DBAPIError:
            return None
    facts = {"database_id": one("SELECT id FROM database_identity"),
             "schema_revision": one("SELECT version_num FROM alembic_version"),
             "instances": one("SELECT count(*) FROM instances"),
             "events": one("SELECT count(*) FROM events")}
    if facts["instances"] is None:
        raise BackupError("the database has no zhixing schema: nothing to back up (run `zhixing init` first?)")
    return facts


# -- restore --------------------------------------------------------------------------------------------------
def read_manifest(source: Path) -> dict:
    """The backup's manifest, after checking every file it lists against its hash."""
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} is not a zhixing backup (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source / MANIFEST} cannot be read: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} has backup format {manifest.get('format')!r}; this zhixing reads {FORMAT}")
    for name, digest in manifest["files"].items():
        path = source / name
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {name} is missing")
        if _sha256(path) != digest:
            raise BackupError(f"the backup is damaged: {name} differs from when it was taken")
    return manifest


def restore(source: Path, url: str, documents: Path, sandbox_root: Path, force: bool = False) -> Report:
    """Bring the backup at ``source`` back into the database at ``url``, with its sandbox memory and documents.

    :raises BackupError: the backup is damaged or of the other kind of store, or the target holds cases or is in
        use by another process and ``force`` is not set.
    """
    source = Path(source)
    manifest = read_manifest(source)
    kind = _kind(url)
    if manifest["kind"] != kind:
        raise BackupError(f"{source} is a {manifest['kind']} backup and the target is {kind}: restore it into a "
                          f"{manifest['kind']} database (DATABASE_URL), then move the data with your own tools")
    notes = []
    busy = _in_use(url)
    held = _cases_in(url)
    if not force:
        if busy:
            raise BackupError(f"the target database is in use by {busy}: stop the server and the workers first, "
                              "or pass --force (they must be restarted afterwards)")
        if held:
            raise BackupError(f"the target database holds {held} case(s); restoring replaces them all: pass --force "
                              "to do it (a backup of the target first is wise)")
    if busy:
        notes.append(f"the target was in use by {busy}: restart the server and the workers now")
    if kind == "sqlite":
        _sqlite_restore(source / SQLITE_FILE, _sqlite_path(url, must_exist=False))
    else:
        _pg_restore(source / PG_FILE, url)
    world = world_dir(manifest["database_id"], sandbox_root)
    if (source / SANDBOX_FILE).is_file():
        world.mkdir(parents=True, exist_ok=True)
        _sqlite_restore(source / SANDBOX_FILE, world / SANDBOX_FILE)
    elif (world / SANDBOX_FILE).is_file():
        notes.append(f"the backup has no sandbox memory; {world} was left as it is")
    count = _copy_documents(source / DOCUMENTS, Path(documents))
    return Report(source, kind, manifest["database_id"], manifest["instances"], manifest["events"], count,
                  (source / SANDBOX_FILE).is_file(), notes)


def _sqlite_restore(source: Path, dest: Path) -> None:
    """Write ``source`` over ``dest`` through SQLite (its locks and WAL), never by replacing the file under the
    feet of a connection that has it open."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(dest, timeout=30)
    try:
        if dst.execute("PRAGMA page_size").fetchone()[0] != src.execute("PRAGMA page_size").fetchone()[0]:
            dst.execute("PRAGMA journal_mode=DELETE")   # a WAL target cannot change its page size
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        dst.close()
        src.close()


def _in_use(url: str) -> str | None:
    """Who else has the target open (None: nobody). SQLite: a connection in WAL mode holds a shared lock on the
    "-shm" file while it is open, which a test lock reveals (another process only: a lock never conflicts with
    its own process). PostgreSQL: other sessions on the database."""
    if _kind(url) == "sqlite":
        shm = Path(f"{_sqlite_path(url, must_exist=False)}-shm")
        try:
            fd = os.open(shm, os.O_RDWR)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BackupError(f"cannot tell whether {shm.parent} is in use: {exc}") from None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, WAL_DMS_BYTE)
        except OSError:
            return "another process (a server or a worker?)"
        else:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, WAL_DMS_BYTE)
        finally:
            os.close(fd)
        return None
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            others = conn.exec_driver_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND pid <> pg_backend_pid()").scalar()
    except sa.exc.OperationalError:
        return None                      # no such database yet: pg_restore needs it created (see _pg_restore)
    finally:
        engine.dispose()
    return f"{others} other session(s)" if others else None


def _cases_in(url: str) -> int:
    if _kind(url) == "sqlite" and not _sqlite_path(url, must_exist=False).exists():
        return 0
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM instances").scalar() or 0)
    except sa.exc.DBAPIError:
        return 0                         # no schema (or no database) yet: nothing to lose
    finally:
        engine.dispose()


# -- PostgreSQL: pg_dump / pg_restore ---------------------------------------------------------------------------
def _libpq(url: str) -> tuple[str, dict]:
    """The libpq connection string (without the password) and the environment carrying the password."""
    parsed = sa.engine.make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _run(args: list[str], env: dict, what: str) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(f"{args[0]} is not installed: install PostgreSQL's client programs "
                          "(Debian: apt-get install postgresql-client), of the server's major version") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{what} failed: {lines[-1] if lines else f'exit code {done.returncode}'}")


def _pg_dump(url: str, dest: Path) -> dict:
    """``pg_dump --format=custom`` of the snapshot this function reads the manifest's facts in (exported from a
    repeatable-read transaction held open meanwhile), so the counts are exactly the dump's; writers carry on."""
    libpq, env = _libpq(url)
    engine = sa.create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn, conn.begin():
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            facts = _read_facts(conn)
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  f"--file={dest}", f"--dbname={libpq}"], env, "pg_dump")
    finally:
        engine.dispose()
    return facts


def _pg_restore(source: Path, url: str) -> None:
    """``pg_restore --clean --if-exists`` in one transaction into the (existing) database of ``url``."""
    conn, env = _libpq(url)
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={conn}", str(source)], env, "pg_restore")


# -- helpers ----------------------------------------------------------------------------------------------------
def _kind(url: str) -> str:
    name = sa.engine.make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {name} database: zhixing runs on SQLite or PostgreSQL")
    return name


def _sqlite_path(url: str, must_exist: bool) -> Path:
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored: set DATABASE_URL to a file")
    path = Path(database)
    if must_exist and not path.is_file():
        raise BackupError(f"there is no database at {path} (DATABASE_URL); nothing to back up")
    return path
