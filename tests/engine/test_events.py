"""Waiting on several events at once (event-based gateway), messages keyed by another field than the case
number, date timers on the virtual clock, and the case fields supervisors filter on."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.store.tables import instances, subscriptions

EVENTS_BPMN = Path(__file__).parents[1] / "bpmn" / "events"


@pytest.fixture
def watch(engine):
    engine.deploy([EVENTS_BPMN])
    return engine


def start(engine, case_no, debtor_id="D-1"):
    return engine.start("debtor_watch", case_no, "J0104", {"debtor_id": debtor_id, "amount": 1200}, actor="clerk")


def fields(engine, instance_id):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(instances.c.fields).where(instances.c.id == instance_id)).scalar()


def test_gateway_waits_on_every_message_and_its_timer(watch):
    view = start(watch, "C-1")
    with watch.db.connect() as conn:
        subs = conn.execute(sa.select(subscriptions.c.message_name, subscriptions.c.correlation_key)
                            .where(subscriptions.c.instance_id == view.id)
                            .order_by(subscriptions.c.message_name)).all()
    assert [tuple(s) for s in subs] == [("debtor_alert", "D-1"), ("paid", "C-1")]
    [timer] = watch.job_list(kind="timer", instance_id=view.id)
    # started Monday 2026-03-02; P10D ends Thursday 03-12 at 24:00 Beijing
    assert timer.due_at.isoformat() == "2026-03-12T16:00:00+00:00"
    assert fields(watch, view.id) == {"debtor_id": "D-1", "outcome": "waiting", "amount": 1200}


def test_message_wins_the_race_and_the_timer_is_dropped(watch):
    view = start(watch, "C-1")
    assert watch.correlate("paid", "C-1", {}, court="J0104").status == "delivered"
    assert watch.instance(view.id).status == "completed"
    assert watch.job_list(kind="timer", instance_id=view.id) == []
    assert fields(watch, view.id)["outcome"] == "paid"
    with watch.db.connect() as conn:
        assert conn.execute(sa.select(subscriptions).where(subscriptions.c.instance_id == view.id)).all() == []


def test_date_timer_fires_at_its_due_moment(watch, clock):
    view = start(watch, "C-1")
    [timer] = watch.job_list(kind="timer", instance_id=view.id)
    clock.set(timer.due_at - timedelta(seconds=1))
    assert watch.run_until_idle() == 0
    clock.set(timer.due_at)                    # exactly due: fires (SpiffWorkflow alone waits for a later moment)
    assert watch.run_until_idle() == 1
    assert watch.instance(view.id).status == "completed"
    assert fields(watch, view.id)["outcome"] == "expired"


def test_message_keyed_by_debtor_reaches_every_case_of_that_debtor(watch):
    first, second = start(watch, "C-1", "D-7"), start(watch, "C-2", "D-7")
    other = start(watch, "C-3", "D-8")
    result = watch.correlate("debtor_alert", "D-7", {"source": "执转破"}, court="J0104")
    assert (result.status, sorted(result.instance_ids)) == ("delivered", sorted([first.id, second.id]))
    for view in (first, second):
        assert fields(watch, view.id)["outcome"] == "alerted by 执转破"
    assert watch.instance(other.id).status == "running"
    assert watch.correlate("debtor_alert", "C-3", {"source": "wrong key"}, court="J0104").status == "unmatched"


def test_a_message_key_declared_in_any_file_of_the_set_counts():
    from engine.definitions.parser import _message_keys
    keyed = (EVENTS_BPMN / "debtor_watch.bpmn").read_bytes()
    plain = b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">' \
            b'<bpmn:message id="m" name="debtor_alert"/></bpmn:definitions>'
    for files in ({"a.bpmn": keyed, "z.bpmn": plain}, {"a.bpmn": plain, "z.bpmn": keyed}):
        assert _message_keys(files) == {"debtor_alert": "debtor_id"}
