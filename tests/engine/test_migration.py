"""Migrating running cases to a new version of their procedure (版本迁移), on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engine import StateError

from testpaths import ENGINE_BPMN

BIG = {"debtor": "乙公司", "amount": 250000}
DECIDE_LANE = "<bpmn:flowNodeRef>decide</bpmn:flowNodeRef>"


def base_set() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in ENGINE_BPMN.iterdir() if p.is_file()}


def edited(**changes) -> dict[str, bytes]:
    """The engine test set with (old, new) text replacements per file name (dots as underscores)."""
    files = base_set()
    for key, pairs in changes.items():
        name = next(n for n in files if n.replace(".", "_") == key)
        for old, new in pairs:
            assert old in files[name], old
            files[name] = files[name].replace(old, new)
    return {n: t.encode() for n, t in files.items()}


_FLOW = base_set()["case_flow.bpmn"]
NOTIFY = _FLOW[_FLOW.index('<bpmn:serviceTask id="notify"'):_FLOW.index("</bpmn:serviceTask>") + 19]


def at_decide(engine, case_no="（2026）J0104执9号"):
    view = engine.start("case_flow", case_no, "J0104")
    [register] = engine.tasks(instance_id=view.id)
    engine.complete_task(register.task_id, "clerk", BIG)
    engine.run_until_idle()
    return view.id


def open_ids(engine, instance_id):
    return sorted(t.bpmn_id for t in engine.tasks(instance_id=instance_id))


def timer_due(engine, instance_id):
    return {j.bpmn_id: j.due_at for j in engine.job_list(instance_id=instance_id, kind="timer")}


ADD_EXTRA = [("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>",
              "<bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>extra</bpmn:flowNodeRef>"),
             ('<bpmn:userTask id="review"', '<bpmn:userTask id="extra" name="Second look"/>\n<bpmn:userTask id="review"'),
             ('<bpmn:sequenceFlow id="f6" sourceRef="review" targetRef="wait_payment"/>',
              '<bpmn:sequenceFlow id="f6" sourceRef="review" targetRef="extra"/>'
              '<bpmn:sequenceFlow id="f6b" sourceRef="extra" targetRef="wait_payment"/>'),
             ('name="Decide on measures"', 'name="Decide on measures (v2)"')]


def test_a_waiting_case_moves_keeps_its_deadline_and_claim_and_follows_the_new_path(deployed, clock):
    instance_id = at_decide(deployed)
    [decide] = deployed.tasks(instance_id=instance_id)
    deployed.claim_task(decide.task_id, "officer")
    due_before = timer_due(deployed, instance_id)
    clock.advance(timedelta(days=2))
    deployed.deploy(edited(case_flow_bpmn=ADD_EXTRA))

    total, [candidate] = deployed.design.migration_preview("case_flow", 1, 2, ["J0104"])
    assert total == 1 and candidate.ok and candidate.instance_id == instance_id
    view = deployed.migrate_instance(instance_id, 2, "designer", from_version=1)

    assert view.version == 2 and deployed.instance(instance_id).version == 2
    [task] = deployed.tasks(instance_id=instance_id)
    assert (task.task_id, task.name, task.claimed_by) == (decide.task_id, "Decide on measures (v2)", "officer")
    assert timer_due(deployed, instance_id) == due_before      # the legal period keeps counting from its start
    [event] = [e for e in deployed.events(instance_id) if e.action == "instance_migrated"]
    assert event.actor == "designer" and event.data["from"] == "case_flow@1" and event.data["to"] == "case_flow@2"
    assert all(r.ok for r in deployed.verify_audit(instance_id))

    deployed.complete_task(task.task_id, "officer", {})
    [review] = deployed.tasks(instance_id=instance_id)
    deployed.complete_task(review.task_id, "panel", {})
    assert open_ids(deployed, instance_id) == ["extra"]
    assert deployed.design.migration_preview("case_flow", 1, 2, ["J0104"]) == (0, [])


@pytest.mark.parametrize("change, reason", [
    ([('"decide"', '"decide_v2"'), (">decide<", ">decide_v2<")],   # the same step under another id
     "decide: the case waits here, and the new version no longer has this element"),
    ([('"P10D"</bpmn:timeDuration>', '"P15D"</bpmn:timeDuration>')], "decide_deadline: the case waits on this event"),
    ([('<bpmn:userTask id="decide" name="Decide on measures">', '<bpmn:manualTask id="decide" name="Decide">'),
      ('</bpmn:userTask>\n    <bpmn:boundaryEvent', '</bpmn:manualTask>\n    <bpmn:boundaryEvent')],
     "decide: the case waits here, and the element changed its type"),
])
def test_unsafe_moves_are_refused_with_the_reason_and_change_nothing(deployed, change, reason):
    instance_id = at_decide(deployed)
    tasks_before, timers_before = deployed.tasks(instance_id=instance_id), timer_due(deployed, instance_id)
    deployed.deploy(edited(case_flow_bpmn=change))

    _total, [candidate] = deployed.design.migration_preview("case_flow", 1, 2, ["J0104"])
    assert not candidate.ok and any(reason in r for r in candidate.reasons), candidate.reasons
    with pytest.raises(StateError, match="cannot move"):
        deployed.migrate_instance(instance_id, 2, "designer")
    assert deployed.instance(instance_id).version == 1
    assert deployed.tasks(instance_id=instance_id) == tasks_before
    assert timer_due(deployed, instance_id) == timers_before
    assert not [e for e in deployed.events(instance_id) if e.action == "instance_migrated"]


def test_an_open_form_that_changed_incompatibly_is_refused_a_compatible_one_moves(deployed):
    waiting = deployed.start("case_flow", "（2026）J0104执10号", "J0104").id
    deployed.deploy(edited(register_schema_json=[('"amount": {"type": "integer"', '"amount": {"type": "string"')]))
    _total, [candidate] = deployed.design.migration_preview("case_flow", 1, 2, ["J0104"])
    assert candidate.reasons == ("register: the open task's form changed incompatibly "
                                 "(field amount changed type integer → string)",)

    deployed.deploy(edited(register_schema_json=[('"properties": {', '"properties": {"note": {"type": "string"},')]))
    deployed.migrate_instance(waiting, 3, "designer")
    [task] = deployed.tasks(instance_id=waiting)
    deployed.complete_task(task.task_id, "clerk", {**BIG, "amount": 5000, "note": "ok"})
    deployed.run_until_idle()
    assert deployed.instance(waiting).status == "completed"


def test_a_case_whose_history_passed_a_removed_element_cannot_move(deployed):
    at_decide(deployed)      # passed notify
    deployed.deploy(edited(case_flow_bpmn=[
        ('<bpmn:sequenceFlow id="f2" sourceRef="register" targetRef="notify"/>',
         '<bpmn:sequenceFlow id="f2" sourceRef="register" targetRef="compute"/>'),
        ('<bpmn:sequenceFlow id="f3" sourceRef="notify" targetRef="compute"/>', ""),
        ("<bpmn:flowNodeRef>notify</bpmn:flowNodeRef>", ""), (NOTIFY, "")]))
    _total, [candidate] = deployed.design.migration_preview("case_flow", 1, 2, ["J0104"])
    assert any("already passed notify" in r for r in candidate.reasons), candidate.reasons


def test_a_role_change_of_the_open_task_releases_its_claim(deployed):
    instance_id = at_decide(deployed)
    [decide] = deployed.tasks(instance_id=instance_id)
    deployed.claim_task(decide.task_id, "officer")
    deployed.deploy(edited(case_flow_bpmn=[(DECIDE_LANE, ""), ("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>",
                                                                "<bpmn:flowNodeRef>review</bpmn:flowNodeRef>"
                                                                + DECIDE_LANE)]))
    _total, [candidate] = deployed.design.migration_preview("case_flow", 1, 2, ["J0104"])
    assert candidate.ok and "its claim is released" in candidate.notes[0]
    deployed.migrate_instance(instance_id, 2, "designer")
    [task] = deployed.tasks(instance_id=instance_id)
    assert (task.task_id, task.role, task.claimed_by) == (decide.task_id, "panel_member", None)


def test_suspended_cases_stay_and_other_courts_see_nothing(deployed):
    instance_id = at_decide(deployed)
    deployed.suspend(instance_id, "supervisor", "破产审查")
    deployed.deploy(edited(case_flow_bpmn=ADD_EXTRA))
    assert deployed.design.migration_preview("case_flow", 1, 2, ["J9999"]) == (0, [])
    _total, [candidate] = deployed.design.migration_preview("case_flow", 1, 2, ["J0104"])
    assert candidate.reasons == ("the case is suspended; only running cases move (resume it first)",)
    with pytest.raises(StateError):
        deployed.migrate_instance(instance_id, 2, "designer")
