"""A sweep fires the due timers of many cases in one transaction (``engine.background.worker.TIMER_BATCH``),
their writes run together; the outcome is the one firing them one by one gives, and a failure in the batch costs only a re-run
of its jobs one by one."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import Engine
from engine.background import worker as worker_module
from engine.kernel.unit_of_work import UnitOfWork
from engine.store.tables import instances, jobs
from handlers.base import Retryable
from handlers.registry import HandlerSpec, Registry

from test_local_services import Calls  # records the idempotency keys asked, fails while told to

DIAGRAM = Path(__file__).parents[1] / "bpmn" / "workers" / "wait_then_notify.bpmn"
CASES = 5


@pytest.fixture
def calls():
    return Calls()


@pytest.fixture
def store(db_url, clock, calls):
    registry = Registry()       # notify.send through the 送达平台, whose sandbox adapter is local: run inline
    registry.register(HandlerSpec("notify.send", calls.send, ("recipient", "message"), system="delivery"))
    engine = Engine(db_url, clock=clock, registry=registry)
    if db_url.startswith("postgresql"):
        engine.init_schema()
    engine.deploy([DIAGRAM])
    yield engine
    engine.close()


def due_cases(store, clock, prefix: str = "W") -> list:
    wake_at = (clock.now() + timedelta(hours=1)).isoformat()
    views = [store.start("wait_then_notify", f"{prefix}-{n}", "J0104", {"wake_at": wake_at}) for n in range(CASES)]
    clock.advance(timedelta(hours=1))
    return views


def commits(store) -> list:
    counted: list = []
    sa.event.listen(store.db, "commit", lambda conn: counted.append(1))
    return counted


def history(store, views) -> list:
    """Each case's status, row version and steps (without ids, times and data)."""
    with store.db.connect() as conn:
        versions = dict(conn.execute(sa.select(instances.c.id, instances.c.version)).all())
    return [(store.instance(v.id).status, versions[v.id], [(e.action, e.bpmn_id) for e in store.events(v.id)])
            for v in views]


def test_the_due_timers_of_many_cases_fire_in_one_transaction(store, clock, calls):
    views = due_cases(store, clock)
    counted = commits(store)
    assert store.run_due_jobs() == CASES
    assert len(counted) == 2                      # the lease of the jobs, then one transaction for every case
    assert {store.instance(v.id).status for v in views} == {"completed"}
    assert all(history[-3:] == ["timer_fired", "service_completed", "instance_completed"]
               for history in ([e.action for e in store.events(v.id)] for v in views))
    assert sorted(calls.keys) == sorted(set(calls.keys)) and len(calls.keys) == CASES   # each case asked once
    assert store.job_list() == [] and all(r.ok for r in store.verify_audit())


def test_a_batch_leaves_what_one_by_one_leaves(store, clock, monkeypatch):
    together = due_cases(store, clock)
    store.run_due_jobs()
    monkeypatch.setattr(worker_module, "TIMER_BATCH", 1)
    alone = due_cases(store, clock, "A")       # case numbers are used once
    counted = commits(store)
    store.run_due_jobs()
    assert len(counted) == 1 + CASES
    assert history(store, together) == history(store, alone)
    assert history(store, alone)[0][0] == "completed"


def test_a_failure_in_a_batch_reruns_its_jobs_one_by_one(store, clock, calls):
    """The batch fails on the first case's notice and is rolled back; run alone, that notice fails again and becomes
    its job's first attempt, the others fire as usual."""
    views = due_cases(store, clock)
    calls.fail = [Retryable("送达平台 timed out"), Retryable("送达平台 timed out")]
    store.run_due_jobs()
    statuses = [store.instance(v.id).status for v in views]
    assert statuses.count("completed") == CASES - 1
    [job] = store.job_list()
    assert (job.kind, job.status, job.attempts) == ("service", "ready", 1)
    assert "timed out" in job.last_error
    first_key = calls.keys[0]
    assert calls.keys.count(first_key) == 2                 # in the batch, then alone: the same key
    clock.advance(timedelta(seconds=10))
    store.run_due_jobs()
    assert {store.instance(v.id).status for v in views} == {"completed"}
    assert calls.keys[-1] == first_key and all(r.ok for r in store.verify_audit())


def test_a_case_changed_meanwhile_makes_the_batch_run_one_by_one(store, db_url, clock, calls, monkeypatch):
    """Another process saves one of the cases between the batch's read and its write: the batch's version check
    fails, nothing of it is kept, and the jobs run again one by one on the current rows."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: nobody can write between the batch's read and its write")
    views = due_cases(store, clock)
    flush = UnitOfWork.flush
    bumped = []

    def flush_after_another_write(self):
        if self._pending and not bumped:
            bumped.append(1)
            with store.db.begin() as conn:              # another process's save of the first case
                conn.execute(instances.update().where(instances.c.id == views[0].id)
                             .values(version=instances.c.version + 1))
        return flush(self)

    counted = commits(store)
    monkeypatch.setattr(UnitOfWork, "flush", flush_after_another_write)
    assert store.run_due_jobs() == CASES
    assert len(counted) == 1 + 1 + CASES        # lease, the other process's write, then each case alone
    assert {store.instance(v.id).status for v in views} == {"completed"}
    assert len(calls.keys) == 2 * CASES and len(set(calls.keys)) == CASES   # asked again with the same keys


def test_a_timer_job_due_before_its_timer_goes_back_due_when_the_timer_is(store, clock, calls):
    """A job row edited by hand (or written by an older version) to be due before its timer: taking it fires
    nothing, and the job returns to the queue due at the timer's time, not taken again and again."""
    wake_at = clock.now() + timedelta(hours=1)
    view = store.start("wait_then_notify", "W-early", "J0104", {"wake_at": wake_at.isoformat()})
    with store.db.begin() as conn:
        conn.execute(jobs.update().where(jobs.c.instance_id == view.id).values(due_at=clock.now()))
    assert store.run_due_jobs() == 1
    [job] = store.job_list(instance_id=view.id)
    assert (job.status, job.due_at) == ("ready", wake_at)
    assert store.run_due_jobs() == 0
    clock.advance(timedelta(hours=1))
    assert store.run_due_jobs() == 1 and store.instance(view.id).status == "completed"
