"""The stored state: the cached encoding equals plain JSON, and it round-trips."""
from __future__ import annotations

import json
import zlib

from SpiffWorkflow.util.task import TaskState

from engine.definitions.parser import parse
from engine.kernel import serialization

from testpaths import ENGINE_BPMN

PROCEDURES = ENGINE_BPMN.parents[2] / "bpmn"


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
    # a loaded workflow reuses the dicts it was read from: its next save is still plain JSON of what it holds
    assert len(vars(again)["_zhixing_task_dicts"]) > 5
    [task] = again.get_tasks(state=TaskState.READY, manual=True)
    task.data["done"] = True
    task.run()
    again.do_engine_steps()
    text = zlib.decompress(serialization.dump_state(again)).decode()
    vars(again).pop("_zhixing_task_dicts")
    assert json.loads(text) == json.loads(json.dumps(serialization._STATE.to_dict(again)))


def test_specs_that_running_never_changes_are_shared_the_others_copied():
    """SpiffWorkflow changes a spec only when an event subprocess is first triggered or a loop first runs: the
    processes without those share one set of spec objects; the others get a copy per instance."""
    import handlers.builtin  # noqa: F401,E401  (the operators the procedures call)
    from handlers import REGISTRY
    files = {path.name: path.read_bytes() for path in PROCEDURES.iterdir() if path.is_file()}
    parsed = {p.process_id: p.spec_json for p in parse(files, registry=REGISTRY)}
    first, second = (serialization.new_workflow(parsed["no_asset_exit"], None) for _ in range(2))
    assert first.spec is second.spec
    first, second = (serialization.new_workflow(parsed["enforcement_case"], None) for _ in range(2))
    assert first.spec is not second.spec
    assert not serialization.read_only_at_run_time(first.spec, *first.subprocess_specs.values())


def test_sharing_a_spec_that_running_changes_would_be_caught(monkeypatch):
    """A triggered event subprocess changes its spec: such a process is copied per instance, and the check the
    scenario tests run after each scenario (``changed_shared_specs``) names it if it were shared."""
    from SpiffWorkflow.bpmn import BpmnEvent
    from SpiffWorkflow.spiff.parser import SpiffBpmnParser
    from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(ENGINE_BPMN.parent / "spec_sharing" / "objection_subprocess.bpmn"))
    text = serialization.spec_json(parser.get_spec("objection_subprocess"),
                                   parser.get_subprocess_specs("objection_subprocess"))
    workflow = serialization.new_workflow(text, None)
    assert not serialization.read_only_at_run_time(workflow.spec)
    monkeypatch.setattr(serialization, "_RESTORED", {})
    monkeypatch.setattr(serialization, "read_only_at_run_time", lambda *specs: True)
    workflow = serialization.new_workflow(text, None)
    workflow.do_engine_steps()
    assert serialization.changed_shared_specs() == []
    workflow.send_event(BpmnEvent(MessageEventDefinition("objection_filed"), {}))
    workflow.do_engine_steps()
    assert serialization.changed_shared_specs() == ["objection_subprocess"]
