"""Several `zhixing worker` processes on one database: each timer and service task is taken by exactly one of
them, and a worker killed with SIGKILL in the middle of a batch loses nothing (its leases run out and another
worker takes the jobs; service calls are idempotent by key, so a call repeated after the kill books nothing twice).
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import Engine
from engine.store.tables import events, instances, jobs

WORKERS_BPMN = Path(__file__).parents[1] / "bpmn" / "workers"
ZHIXING = Path(sys.executable).with_name("zhixing")


@pytest.fixture
def store(db_url, tmp_path):
    engine = Engine(db_url)
    if db_url.startswith("postgresql"):
        engine.init_schema()
    engine.deploy([WORKERS_BPMN])
    yield engine
    engine.close()


def start_cases(engine, count: int, process: str = "wait_then_notify") -> None:
    """Cases whose timers all fall due together, after the last one started (a timer already due when its case
    starts fires inline, and no worker would have to take it)."""
    wake_at = (datetime.now(UTC) + timedelta(seconds=2 + 0.03 * count)).isoformat()
    for n in range(count):
        engine.start(process, f"W-{n}", "J0104", {"wake_at": wake_at})
    assert len(engine.job_list(kind="timer")) == count, "cases started too slowly: their timers were already due"


def worker(db_url: str, tmp_path: Path, name: str, lease_s: int = 300) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=db_url, ZHIXING_JOB_LEASE_S=str(lease_s),
               ZHIXING_SANDBOX_DIR=str(tmp_path / "sandbox"))
    with open(tmp_path / f"{name}.log", "w") as log:      # the child keeps its own handle
        return subprocess.Popen([str(ZHIXING), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=log)


def completed(engine) -> int:
    with engine.db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(instances)
                            .where(instances.c.status == "completed")).scalar()


def wait_for(predicate, timeout_s: float = 90.0, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(poll_s)


def assert_each_step_once(engine, count: int) -> None:
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(events.c.instance_id, events.c.action)
                            .where(events.c.action.in_(("timer_fired", "service_completed")))).all()
        left = conn.execute(sa.select(sa.func.count()).select_from(jobs)).scalar()
    per_instance = Counter((r.instance_id, r.action) for r in rows)
    assert len(per_instance) == 2 * count
    assert set(per_instance.values()) == {1}, "a timer or a service task ran twice"
    assert left == 0
    assert all(report.ok for report in engine.verify_audit())


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        proc.wait(timeout=10)


def test_three_workers_share_the_jobs_exactly_once(store, db_url, tmp_path):
    count = 150
    start_cases(store, count)
    procs = [worker(db_url, tmp_path, f"w{i}") for i in range(3)]
    try:
        wait_for(lambda: completed(store) == count)
    finally:
        stop(*procs)
    assert_each_step_once(store, count)


@pytest.mark.parametrize("process", ["wait_then_notify", "wait_then_serve"])
def test_a_worker_killed_mid_batch_loses_nothing(store, db_url, tmp_path, process):
    """``wait_then_serve``'s notice goes through the 送达 sandbox, a local adapter: it runs inside the timer's step."""
    count = 300
    start_cases(store, count, process)
    first = worker(db_url, tmp_path, "first", lease_s=3)
    try:
        wait_for(lambda: completed(store) >= 5, poll_s=0.01)   # a batch of timers takes ~0.1 s: kill before many
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first)
    done_at_kill = completed(store)
    assert done_at_kill < count, "the worker finished before it could be killed; raise the count"
    second = worker(db_url, tmp_path, "second", lease_s=3)
    try:
        wait_for(lambda: completed(store) == count)
    finally:
        stop(second)
    assert_each_step_once(store, count)
    if process == "wait_then_serve":      # the sandbox booked one notice per case, whatever was repeated
        from handlers.sandbox_store import FILE_NAME, world_dir  # its memory of this database
        with sqlite3.connect(world_dir(store.executor.database_id, tmp_path / "sandbox") / FILE_NAME) as sandbox:
            assert sandbox.execute("SELECT count(*) FROM records WHERE kind = 'delivery'").fetchone() == (count,)
