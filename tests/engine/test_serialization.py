"""The stored state: the cached encoding equals plain JSON, and it round-trips."""
from __future__ import annotations

import json
import zlib

from testpaths import ENGINE_BPMN
from engine import serialization


def test_cached_encoding_is_plain_json_and_round_trips(engine):
    engine.deploy([ENGINE_BPMN.parent / "loop"])
    view = engine.start("review_loop", "C-loop", "J0104", {"visits": 0, "done": False, "nested": {"a": [1, 2]}})
    for _ in range(5):
        [task] = engine.tasks(instance_id=view.id)
        engine.complete_task(task.task_id, "officer", {"done": False})
    cached = engine.executor.instances.take(view.id, engine.executor.read(
        lambda conn: conn.exec_driver_sql(f"SELECT version FROM instances WHERE id={view.id}").scalar()))
    workflow = cached[0]
    for _ in range(2):        # the second dump uses the cached task JSON
        text = zlib.decompress(serialization.dump_state(workflow)).decode()
        assert json.loads(text) == json.loads(json.dumps(serialization._STATE.to_dict(workflow)))
    spec_text = engine.executor._definitions[1].spec_json
    again = serialization.load_state(serialization.dump_state(workflow), spec_text, workflow.script_engine)
    assert [t.task_spec.name for t in again.get_tasks()] == [t.task_spec.name for t in workflow.get_tasks()]
    assert again.last_task.data == workflow.last_task.data
