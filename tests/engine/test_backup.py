"""``zhixing backup`` / ``zhixing restore``: a copy taken while cases are started and tasks completed restores to a
database whose every instance loads and whose hash chains verify, with the sandbox memory and the documents."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import Engine
from engine.store.backup import BackupError, backup, read_manifest, restore
from engine.store.tables import database_identity, events, instances
from handlers.base import HandlerContext
from handlers.sandbox_store import FILE_NAME, SandboxStore, world_dir

from testpaths import ENGINE_BPMN

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("ZHIXING_TEST_POSTGRES")


class Writer(threading.Thread):
    """Another engine on the same database, starting cases and completing their first task until stopped: the
    server and the workers of a court at work."""

    def __init__(self, url, clock, registry):
        super().__init__(daemon=True)
        self.engine = Engine(url, clock=clock, registry=registry)
        self.done, self.error, self.stop = 0, None, threading.Event()

    def run(self):
        try:
            while not self.stop.is_set():
                case_no = f"（2026）J0104执{1000 + self.done}号"
                view = self.engine.start("case_flow", case_no, "J0104", {"applicant": "甲"}, actor="clerk")
                [task] = self.engine.tasks(instance_id=view.id)
                self.engine.complete_task(task.task_id, "clerk", {"debtor": "乙公司", "amount": 250000})
                self.engine.run_until_idle()
                self.done += 1
        except Exception as exc:       # reported by the test
            self.error = exc
        finally:
            self.engine.close()

    def wait_for(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while self.done < count and self.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.error is None, self.error
        assert self.done >= count, f"the writer did {self.done} cases in {timeout} s"


def _identity(url):
    db = sa.create_engine(url)
    with db.connect() as conn:
        found = conn.execute(sa.select(database_identity.c.id)).scalar_one()
    db.dispose()
    return found


def _counts(url):
    db = sa.create_engine(url)
    with db.connect() as conn:
        found = (conn.execute(sa.select(sa.func.count()).select_from(instances)).scalar(),
                 conn.execute(sa.select(sa.func.count()).select_from(events)).scalar(),
                 conn.execute(sa.select(instances.c.id).order_by(instances.c.id)).scalars().all())
    db.dispose()
    return found


def _fresh_target(kind, tmp_path):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'restored' / 'zhixing.db'}", None
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"zx_restore_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


def _drop(name):
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def live(db_url, clock, registry, tmp_path):
    """A court's store at work: the engine's diagrams, a clerk, a sandbox memory and a generated document."""
    engine = Engine(db_url, clock=clock, registry=registry)
    if db_url.startswith("postgresql"):
        engine.init_schema()
    engine.deploy([ENGINE_BPMN])
    engine.add_user("clerk", "立案 王", [("J0104", "filing_clerk")])
    places = {"documents": tmp_path / "documents", "sandbox_root": tmp_path / "sandbox"}
    ctx = HandlerContext("svc:1:t1", 1, None, "J0104", datetime(2026, 3, 2, tzinfo=UTC), 1,
                         _identity(db_url))
    SandboxStore("ledger", places["sandbox_root"]).once(
        ctx, "receive", {}, lambda rec: rec.put("account", "（2026）川0104执1号", {"received": "1000.00"}))
    (places["documents"] / "2026_川0104执1号").mkdir(parents=True)
    (places["documents"] / "2026_川0104执1号" / "notice.docx").write_bytes(b"PK\x03\x04 notice")
    yield engine, places
    engine.close()


def test_a_backup_under_write_load_restores_to_a_store_that_loads_and_verifies(live, db_url, clock, registry,
                                                                                tmp_path):
    engine, places = live
    writer = Writer(db_url, clock, registry)
    writer.start()
    try:
        writer.wait_for(5)
        before = writer.done
        report = backup(db_url, tmp_path / "backup", **places)
        writer.wait_for(before + 3)                     # the writers were never stopped, and carry on
    finally:
        writer.stop.set()
        writer.join(60)
    assert writer.error is None, writer.error
    assert report.instances >= before and report.sandbox and report.documents == 1

    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    target, name = _fresh_target(kind, tmp_path)
    restored_places = {"documents": tmp_path / "restored" / "documents",
                       "sandbox_root": tmp_path / "restored" / "sandbox"}
    try:
        back = restore(tmp_path / "backup", target, **restored_places)
        count, event_count, ids = _counts(target)
        assert (count, event_count) == (report.instances, report.events) and count < _counts(db_url)[0]
        assert _identity(target) == _identity(db_url)   # the same world: its sandbox memory comes with it
        copy = Engine(target, clock=clock, registry=registry)
        try:
            for instance_id in ids:                      # every case loads (its workflow deserialized)
                assert copy.variables(instance_id)["applicant"] == "甲"
            chains = copy.verify_audit()                 # the cases' chains and the office log's (instance 0)
            assert len([r for r in chains if r.instance_id]) == count and all(r.ok for r in chains)
        finally:
            copy.close()
        world = world_dir(back.database_id, restored_places["sandbox_root"]) / FILE_NAME
        assert SandboxStore("ledger", restored_places["sandbox_root"]).read(
            lambda rec: rec.get("account", "（2026）川0104执1号"),
            HandlerContext("k", 1, None, None, datetime.now(UTC), 1, back.database_id)) == {
            "received": "1000.00"} and world.is_file()
        assert (restored_places["documents"] / "2026_川0104执1号" / "notice.docx").read_bytes() == b"PK\x03\x04 notice"
    finally:
        if name:
            _drop(name)


def _hold_open(path: Path):
    """Another process with the database open (a server or a worker)."""
    child = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                              f"c = sqlite3.connect({str(path)!r}); c.execute('SELECT count(*) FROM instances')\n"
                              "print('open', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "open"
    return child


def test_restore_refuses_a_store_with_cases_or_in_use_and_a_damaged_backup(live, db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the SQLite file's checks; PostgreSQL's are in the test above")
    engine, places = live
    engine.start("case_flow", "（2026）J0104执1号", "J0104", {"applicant": "甲"}, actor="clerk")
    path = Path(sa.engine.make_url(db_url).database)
    report = backup(db_url, tmp_path / "backup", **places)
    with pytest.raises(BackupError, match="exists already"):
        backup(db_url, tmp_path / "backup", **places)
    assert not list(tmp_path.glob(".backup.partial*"))

    with pytest.raises(BackupError, match=r"holds 1 case\(s\).*--force"):
        restore(tmp_path / "backup", db_url, **places)
    engine.close()                                      # nobody has it open in this process now
    child = _hold_open(path)
    try:
        with pytest.raises(BackupError, match="in use by another process"):
            restore(tmp_path / "backup", db_url, **places)
        forced = restore(tmp_path / "backup", db_url, force=True, **places)
        assert any("restart" in note for note in forced.notes)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert forced.instances == report.instances == 1

    damaged = tmp_path / "backup" / "zhixing.db"
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(BackupError, match="damaged: zhixing.db"):
        read_manifest(tmp_path / "backup")
    with pytest.raises(BackupError, match="not a zhixing backup"):
        restore(tmp_path, db_url, **places)


def zhixing(*args, db: Path, root: Path):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}", ZHIXING_SANDBOX_DIR=str(root / "sandbox"),
               ZHIXING_DOCUMENT_DIR=str(root / "documents"))
    return subprocess.run([sys.executable, "-c", "from web.cli import main; main()", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_commands_back_up_and_restore_with_one_line_answers(live, db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the command line on the embedded default")
    engine, places = live
    engine.start("case_flow", "（2026）J0104执1号", "J0104", {"applicant": "甲"}, actor="clerk")
    db = Path(sa.engine.make_url(db_url).database)
    taken = zhixing("backup", str(tmp_path / "nightly"), db=db, root=tmp_path)
    assert taken.returncode == 0, taken.stderr
    assert "1 case(s)" in taken.stdout and "1 document(s), sandbox memory" in taken.stdout
    again = zhixing("backup", str(tmp_path / "nightly"), db=db, root=tmp_path)
    assert again.returncode == 1 and again.stderr.startswith("error: ") and "Traceback" not in again.stderr

    refused = zhixing("restore", str(tmp_path / "nightly"), db=db, root=tmp_path)
    assert refused.returncode == 1 and "--force" in refused.stderr and "Traceback" not in refused.stderr
    elsewhere = tmp_path / "other"
    done = zhixing("restore", str(tmp_path / "nightly"), db=elsewhere / "zhixing.db", root=elsewhere)
    assert done.returncode == 0, done.stderr
    assert "audit: 2 chain(s) checked, 0 broken" in done.stdout      # the case and the office log
    assert zhixing("audit", "verify", db=elsewhere / "zhixing.db", root=elsewhere).returncode == 0
