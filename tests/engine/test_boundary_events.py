"""A non-interrupting message boundary event takes every message while its activity runs (BPMN 2.0: a
non-interrupting event may occur any number of times), and none after the activity has ended."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from engine.store.tables import instances, subscriptions

BOUNDARY_BPMN = Path(__file__).parents[1] / "bpmn" / "boundary"


def _state(engine, instance_id):
    with engine.db.connect() as conn:
        subs = conn.execute(sa.select(subscriptions.c.message_name)
                            .where(subscriptions.c.instance_id == instance_id)).scalars().all()
        fields = conn.execute(sa.select(instances.c.fields).where(instances.c.id == instance_id)).scalar()
    return subs, fields


def test_non_interrupting_message_boundary_stays_armed_while_the_task_is_open(engine):
    engine.deploy([BOUNDARY_BPMN])
    view = engine.start("progress_notes", "C-1", "J0104", {}, actor="clerk")
    assert _state(engine, view.id) == (["progress_note"], {})
    for text in ("first", "second", "third"):
        assert engine.correlate("progress_note", "C-1", {"text": text}, court="J0104").status == "delivered"
        assert _state(engine, view.id) == (["progress_note"], {"last_note": text})
    assert [t.bpmn_id for t in engine.tasks(instance_id=view.id)] == ["review"]

    [review] = engine.tasks(instance_id=view.id)
    engine.add_user("officer", "Officer", [("J0104", "implementation_officer")])
    engine.complete_task(review.task_id, "officer", {})
    assert engine.instance(view.id).status == "completed"
    assert _state(engine, view.id)[0] == []
    assert engine.correlate("progress_note", "C-1", {"text": "late"}, court="J0104").status != "delivered"
