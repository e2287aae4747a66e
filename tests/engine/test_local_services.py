"""A handler whose system's adapter is local (the sandboxes) runs inside the timer's step: one transaction, the
job's idempotency key, the same events; when it fails, the timer firing is kept and the failure is the service
job's first attempt (retry with back-off, or an incident), exactly as if its job had run it."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import Engine
from engine.store.tables import events
from handlers.base import BusinessRejection, Retryable
from handlers.registry import HandlerSpec, Registry

DIAGRAM = Path(__file__).parents[1] / "bpmn" / "workers" / "wait_then_notify.bpmn"
IN_SUBPROCESS = DIAGRAM.with_name("wait_then_notify_in_subprocess.bpmn")     # its notice is made by the timer's step


class Calls:
    def __init__(self):
        self.keys: list[str] = []
        self.fail: list[Exception] = []
        self.databases: list[str | None] = []

    def send(self, ctx, recipient, message):
        self.keys.append(ctx.idempotency_key)
        self.databases.append(ctx.database_id)
        if self.fail:
            raise self.fail.pop(0)
        return {"sent_to": recipient, "attempt": ctx.attempt}


@pytest.fixture
def calls():
    return Calls()


@pytest.fixture
def store(db_url, clock, calls):
    registry = Registry()       # notify.send through the 送达平台, whose sandbox adapter is local
    registry.register(HandlerSpec("notify.send", calls.send, ("recipient", "message"), system="delivery"))
    engine = Engine(db_url, clock=clock, registry=registry)
    if db_url.startswith("postgresql"):
        engine.init_schema()
    engine.deploy([DIAGRAM, IN_SUBPROCESS])
    yield engine
    engine.close()


def start_and_wake(store, clock):
    view = store.start("wait_then_notify", "W-1", "J0104", {"wake_at": (clock.now() + timedelta(hours=1)).isoformat()})
    clock.advance(timedelta(hours=1))
    return view


def actions(store, view):
    return [e.action for e in store.events(view.id)]


def test_the_local_handler_runs_in_the_timer_step(store, clock, calls):
    view = start_and_wake(store, clock)
    assert store.run_due_jobs() == 1                          # one job: no service job was ever queued
    assert store.instance(view.id).status == "completed"
    assert actions(store, view)[-3:] == ["timer_fired", "service_completed", "instance_completed"]
    [completed] = [e for e in store.events(view.id) if e.action == "service_completed"]
    assert calls.keys == [f"svc:{view.id}:{completed_task(store, view)}"]
    assert completed.data["result"] == {"sent_to": "申请执行人", "attempt": 1}
    assert store.job_list() == [] and all(r.ok for r in store.verify_audit())


def completed_task(store, view) -> str:
    with store.db.connect() as conn:
        return conn.execute(sa.select(events.c.task_id).where(events.c.instance_id == view.id,
                                                              events.c.action == "service_completed")).scalar()


def test_a_failure_keeps_the_timer_firing_and_is_the_jobs_first_attempt(store, clock, calls):
    view = start_and_wake(store, clock)
    calls.fail = [Retryable("送达平台 timed out")]
    store.run_due_jobs()
    assert actions(store, view)[-2:] == ["timer_fired", "job_failed"]
    [job] = store.job_list(instance_id=view.id)
    assert (job.kind, job.status, job.attempts) == ("service", "ready", 1)
    assert job.due_at == clock.now() + timedelta(seconds=10)           # the usual back-off
    assert "timed out" in job.last_error
    assert store.run_due_jobs() == 0                                    # not before its back-off
    clock.advance(timedelta(seconds=10))
    assert store.run_due_jobs() == 1
    assert store.instance(view.id).status == "completed"
    assert len(set(calls.keys)) == 1 and len(calls.keys) == 2          # the same key both times
    assert calls.keys[0] == f"svc:{view.id}:{completed_task(store, view)}"
    assert all(r.ok for r in store.verify_audit())


def test_a_task_the_step_made_keeps_the_key_of_its_failed_call(store, clock, calls):
    """The subprocess's notice gets new ids when the failed step is run again: its job keeps the inline call's key."""
    view = store.start("wait_then_notify_in_subprocess", "W-2", "J0104",
                       {"wake_at": (clock.now() + timedelta(hours=1)).isoformat()})
    clock.advance(timedelta(hours=1))
    calls.fail = [Retryable("送达平台 timed out")]
    store.run_due_jobs()
    [job] = store.job_list(instance_id=view.id)
    assert (job.kind, job.attempts) == ("service", 1)
    assert ">notify#1" in calls.keys[0]                                 # named after the timer that made it
    clock.advance(timedelta(seconds=10))
    store.run_due_jobs()
    assert store.instance(view.id).status == "completed"
    assert calls.keys == [calls.keys[0]] * 2                            # the retry asked with the same key


def test_a_rejection_is_an_incident_at_once_after_the_timer_fired(store, clock, calls):
    view = start_and_wake(store, clock)
    calls.fail = [BusinessRejection("recipient refused", {"field": "recipient"})]
    store.run_due_jobs()
    assert actions(store, view)[-2:] == ["timer_fired", "incident_opened"]
    [job] = store.job_list(instance_id=view.id)
    assert (job.status, job.attempts, job.error_details) == ("incident", 1, {"field": "recipient"})
    store.retry_incident(job.id, "admin")
    store.run_due_jobs()
    assert store.instance(view.id).status == "completed"


def test_a_handler_of_a_remote_system_still_runs_as_its_own_job(db_url, clock, calls):
    registry = Registry()
    registry.register(HandlerSpec("notify.send", calls.send, ("recipient", "message")))   # no local system
    engine = Engine(db_url, clock=clock, registry=registry)
    if db_url.startswith("postgresql"):
        engine.init_schema()
    engine.deploy([DIAGRAM])
    try:
        view = start_and_wake(engine, clock)
        assert engine.run_due_jobs() == 1 and engine.instance(view.id).status == "running"
        [job] = engine.job_list(instance_id=view.id)
        assert job.kind == "service"
        engine.run_due_jobs()
        assert engine.instance(view.id).status == "completed"
    finally:
        engine.close()


def test_inline_and_job_calls_name_the_database_they_serve(store, clock, calls):
    """Handlers get the store's identity (migration 0012): the sandboxes keep their memory per database by it."""
    from engine.store.tables import database_identity
    with store.db.connect() as conn:
        identity = conn.execute(sa.select(database_identity.c.id)).scalar_one()
    start_and_wake(store, clock)
    calls.fail = [Retryable("送达平台 timed out")]
    store.run_due_jobs()                                # inline, in the timer's step: fails
    clock.advance(timedelta(seconds=10))
    store.run_due_jobs()                                # then by its job
    assert calls.databases == [identity, identity] and len(identity) == 32
