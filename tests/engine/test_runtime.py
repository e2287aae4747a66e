"""The engine end to end on real databases: deploy, start, tasks, service jobs, timers, messages, audit."""
from __future__ import annotations

from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa

from engine import ConcurrentModification, Forbidden, InvalidInput, NotFound, StateError
from engine.commands.tasks import CompleteTask
from engine.store.tables import events

from testpaths import ENGINE_BPMN


def files(**changes):
    out = {p.name: p.read_bytes() for p in ENGINE_BPMN.iterdir()}
    for name, (old, new) in changes.items():
        out[name] = out[name].replace(old.encode(), new.encode())
    return out


def only_task(engine, instance_id, bpmn_id):
    tasks = [t for t in engine.tasks(instance_id=instance_id) if t.bpmn_id == bpmn_id]
    assert len(tasks) == 1, engine.tasks(instance_id=instance_id)
    return tasks[0]


def start_big_case(engine, case_no="（2026）J0104执1号"):
    view = engine.start("case_flow", case_no, "J0104", {"applicant": "甲公司"}, actor="clerk")
    register = only_task(engine, view.id, "register")
    engine.complete_task(register.task_id, "clerk", {"debtor": "乙公司", "amount": 250000})
    engine.run_until_idle()
    return view


def test_deploy_is_versioned_and_idempotent(engine):
    first = engine.deploy(files())
    assert [(d.label, d.created) for d in first] == [("case_flow@1", True), ("objection@1", True)]
    again = engine.deploy(files())
    assert [(d.label, d.created) for d in again] == [("case_flow@1", False), ("objection@1", False)]
    old = engine.start("case_flow", "C-1", "J0104")
    changed = engine.deploy(files(**{"case_flow.bpmn": ('"P10D"', '"P15D"')}))
    assert [(d.label, d.created) for d in changed] == [("case_flow@2", True), ("objection@1", False)]
    new = engine.start("case_flow", "C-2", "J0104")
    assert (engine.instance(old.id).version, engine.instance(new.id).version) == (1, 2)


def test_start_opens_first_task_with_legal_due_date(deployed):
    view = deployed.start("case_flow", "C-1", "J0104", actor="clerk")
    assert view.status == "running" and view.open_tasks == ("register",)
    task = only_task(deployed, view.id, "register")
    # started Monday 2026-03-02 09:00 Beijing; P7D: day 1 = 03-03 … day 7 = Monday 03-09, due at 24:00 local
    assert task.due_at.isoformat() == "2026-03-09T16:00:00+00:00"
    assert task.role == "filing_clerk" and task.court == "J0104"


def test_complete_checks_form_role_and_court(deployed):
    view = deployed.start("case_flow", "C-1", "J0104")
    task = only_task(deployed, view.id, "register")
    with pytest.raises(InvalidInput) as bad:
        deployed.complete_task(task.task_id, "clerk", {"debtor": "乙", "amount": "lots"})
    assert set(bad.value.field_errors) == {"debtor", "amount"}
    with pytest.raises(InvalidInput) as missing:
        deployed.complete_task(task.task_id, "clerk", {"debtor": "乙公司"})
    assert list(missing.value.field_errors) == ["amount"]
    with pytest.raises(Forbidden):
        deployed.complete_task(task.task_id, "officer", {"debtor": "乙公司", "amount": 5})
    deployed.add_user("clerk2", "立案 外院", [("J9999", "filing_clerk")])
    with pytest.raises(Forbidden, match="court J0104"):
        deployed.complete_task(task.task_id, "clerk2", {"debtor": "乙公司", "amount": 5})
    deployed.complete_task(task.task_id, "clerk", {"debtor": "乙公司", "amount": 5})
    with pytest.raises(NotFound):
        deployed.complete_task(task.task_id, "clerk", {"debtor": "乙公司", "amount": 5})


def test_claims_are_exclusive(deployed):
    view = deployed.start("case_flow", "C-1", "J0104")
    task = only_task(deployed, view.id, "register")
    deployed.add_user("clerk2", "立案 二", [("J0104", "filing_clerk")])
    deployed.claim_task(task.task_id, "clerk")
    with pytest.raises(StateError, match="claimed by clerk"):
        deployed.claim_task(task.task_id, "clerk2")
    with pytest.raises(Forbidden):
        deployed.complete_task(task.task_id, "clerk2", {"debtor": "乙公司", "amount": 5})
    deployed.unclaim_task(task.task_id, "clerk")
    deployed.claim_task(task.task_id, "clerk2")
    assert only_task(deployed, view.id, "register").claimed_by == "clerk2"


def test_service_task_runs_as_job_then_gateway_routes(deployed, handler_log):
    view = start_big_case(deployed)
    assert handler_log.calls == [(handler_log.calls[0][0], {"recipient": "乙公司", "amount": 250000})]
    assert handler_log.calls[0][0].startswith(f"svc:{view.id}:")
    data = deployed.variables(view.id)
    assert data["notice"] == {"sent_to": "乙公司", "attempt": 1}
    assert data["fee"] == 2500.0 and data["stage"] == "search"
    assert deployed.instance(view.id).open_tasks == ("decide",)
    small = deployed.start("case_flow", "C-small", "J0104")
    deployed.complete_task(only_task(deployed, small.id, "register").task_id, "clerk",
                           {"debtor": "丙公司", "amount": 10})
    deployed.run_until_idle()
    assert deployed.instance(small.id).status == "completed"


def test_separation_of_duties(deployed):
    view = start_big_case(deployed)
    deployed.complete_task(only_task(deployed, view.id, "decide").task_id, "officer", {"measure": "freeze"})
    review = only_task(deployed, view.id, "review")
    with pytest.raises(Forbidden, match="separation of duties"):
        deployed.complete_task(review.task_id, "officer", {})
    deployed.complete_task(review.task_id, "panel", {"approved": True})
    assert deployed.instance(view.id).open_tasks == ()


def test_retries_then_incident_then_successful_retry(deployed, handler_log, clock):
    handler_log.failures = 5
    view = deployed.start("case_flow", "C-1", "J0104")
    deployed.complete_task(only_task(deployed, view.id, "register").task_id, "clerk",
                           {"debtor": "乙公司", "amount": 250000})
    assert deployed.run_until_idle() == 1                  # first attempt fails, next one in 5 s
    assert deployed.incidents() == []
    clock.advance(timedelta(seconds=5))
    assert deployed.run_until_idle() == 1                  # second fails, third in 10 s (back-off doubles)
    clock.advance(timedelta(seconds=9))
    assert deployed.run_until_idle() == 0
    clock.advance(timedelta(seconds=1))
    deployed.run_until_idle()                              # third attempt = retries exhausted
    [incident] = deployed.incidents()
    assert (incident.attempts, incident.max_attempts, incident.bpmn_id) == (3, 3, "notify")
    assert "timed out" in incident.last_error
    assert len({key for key, _ in handler_log.calls}) == 1  # the same idempotency key every time
    handler_log.failures = 0
    deployed.retry_incident(incident.id, "supervisor")
    deployed.run_until_idle()
    assert deployed.incidents() == [] and deployed.instance(view.id).open_tasks == ("decide",)
    actions = [e.action for e in deployed.events(view.id)]
    assert actions.count("job_failed") == 2 and "incident_opened" in actions and "incident_retried" in actions


def test_business_rejection_is_an_incident_at_once(deployed, handler_log):
    handler_log.reject = True
    start_big_case(deployed)
    [incident] = deployed.incidents()
    assert incident.attempts == 1 and incident.error_details == {"field": "recipient"}


def test_timer_fires_on_virtual_clock(deployed, clock):
    view = start_big_case(deployed)
    [timer] = deployed.job_list(kind="timer", instance_id=view.id)
    # decide opened Monday 03-02; P10D ends Thursday 03-12 at 24:00 Beijing
    assert timer.due_at.isoformat() == "2026-03-12T16:00:00+00:00"
    clock.set(timer.due_at - timedelta(seconds=1))
    assert deployed.run_until_idle() == 0
    clock.set(timer.due_at)
    assert deployed.run_until_idle() == 1
    assert deployed.instance(view.id).open_tasks == ("late_review",)
    assert "timer_fired" in [e.action for e in deployed.events(view.id)]
    assert deployed.job_list(kind="timer", instance_id=view.id) == []


def test_message_correlation_and_unmatched_inbox(deployed):
    view = start_big_case(deployed, "C-9")
    result = deployed.correlate("payment_received", "C-other", {"amount": 1}, court="J0104")
    assert result.status == "unmatched"
    assert [m.correlation_key for m in deployed.inbox()] == ["C-other"]
    deployed.complete_task(only_task(deployed, view.id, "decide").task_id, "officer", {})
    deployed.complete_task(only_task(deployed, view.id, "review").task_id, "panel", {})
    result = deployed.correlate("payment_received", "C-9", {"amount": 250000}, court="J0104")
    assert (result.status, result.instance_ids) == ("delivered", (view.id,))
    assert deployed.instance(view.id).status == "completed"
    assert deployed.variables(view.id)["payment"] == {"amount": 250000}


def test_early_message_is_delivered_when_the_wait_begins(deployed):
    view = start_big_case(deployed, "C-9")
    assert deployed.correlate("payment_received", "C-9", {"amount": 7}, court="J0104").status == "unmatched"
    deployed.complete_task(only_task(deployed, view.id, "decide").task_id, "officer", {})
    deployed.complete_task(only_task(deployed, view.id, "review").task_id, "panel", {})
    deployed.run_until_idle()
    assert deployed.instance(view.id).status == "completed"
    assert deployed.inbox() == [] and [m.status for m in deployed.inbox("delivered")] == ["delivered"]


def test_message_start_and_message_between_instances(deployed):
    main = start_big_case(deployed, "C-main")
    deployed.complete_task(only_task(deployed, main.id, "decide").task_id, "officer", {})
    deployed.complete_task(only_task(deployed, main.id, "review").task_id, "panel", {})
    started = deployed.correlate("objection_filed", "C-main-异1", {"main_case": "C-main"}, court="J0104")
    assert started.status == "started"
    [objection] = started.instance_ids
    assert deployed.instance(objection).case_no == "C-main-异1"
    deployed.complete_task(only_task(deployed, objection, "rule").task_id, "judge", {"ruling": "rejected"})
    assert deployed.instance(objection).status == "completed"
    deployed.run_until_idle()                               # the thrown message is routed by a job
    assert deployed.instance(main.id).status == "completed"
    assert deployed.variables(main.id)["payment"] == {"case_no": "C-main", "amount": 5}


def test_stale_writer_gets_a_conflict(deployed):
    view = start_big_case(deployed)
    decide = only_task(deployed, view.id, "decide")
    stale = {}

    class LoadOnly:                # a writer that loads the instance, then is overtaken
        def execute(self, uow):
            stale["handle"] = uow.load(view.id)

    deployed.executor.run(LoadOnly())
    deployed.complete_task(decide.task_id, "officer", {})

    class SaveStale:
        def execute(self, uow):
            uow.save(stale["handle"])

    with pytest.raises(ConcurrentModification, match="changed by someone else"):
        deployed.executor.run(SaveStale())
    assert deployed.instance(view.id).open_tasks == ("review",)


def test_second_completion_of_the_same_task_is_refused(deployed):
    view = start_big_case(deployed)
    decide = only_task(deployed, view.id, "decide")
    deployed.complete_task(decide.task_id, "officer", {"n": 1})
    with pytest.raises(NotFound):
        deployed.executor.run(CompleteTask(decide.task_id, "officer", {"n": 2}))


def test_suspend_resume_terminate(deployed, clock):
    view = start_big_case(deployed)
    deployed.suspend(view.id, "supervisor", "bankruptcy review")
    decide = only_task(deployed, view.id, "decide")
    with pytest.raises(StateError, match="suspended"):
        deployed.complete_task(decide.task_id, "officer", {})
    clock.advance(timedelta(days=30))
    assert deployed.run_until_idle() == 0                  # timers do not fire while suspended
    deployed.resume(view.id, "supervisor", "bankruptcy refused")
    deployed.run_until_idle()
    assert deployed.instance(view.id).open_tasks == ("late_review",)
    with pytest.raises(InvalidInput):
        deployed.terminate(view.id, "supervisor", " ")
    deployed.terminate(view.id, "supervisor", "withdrawn")
    assert deployed.instance(view.id).status == "terminated" and deployed.tasks(instance_id=view.id) == []


def test_audit_chain_verifies_and_detects_edits(deployed):
    view = start_big_case(deployed)
    [report] = deployed.verify_audit(view.id)
    assert report.ok and report.events == 3
    with deployed.db.begin() as conn:
        conn.execute(events.update().where(events.c.instance_id == view.id, events.c.action == "task_completed")
                     .values(data={"debtor": "乙公司", "amount": 1}))
    [report] = deployed.verify_audit(view.id)
    assert not report.ok and "task_completed" in report.problem and "altered" in report.problem


def test_audit_chain_detects_deleted_last_event(deployed):
    view = start_big_case(deployed)
    with deployed.db.begin() as conn:
        last = conn.execute(sa.select(sa.func.max(events.c.seq)).where(events.c.instance_id == view.id)).scalar()
        conn.execute(events.delete().where(events.c.instance_id == view.id, events.c.seq == last))
    [report] = deployed.verify_audit(view.id)
    assert not report.ok and "removed" in report.problem


def test_provisional_deadlines_are_recomputed_when_the_year_arrives(deployed, clock):
    from datetime import date, datetime
    clock.set(datetime(2031, 9, 29, 1, 0, tzinfo=UTC))      # Monday 2031-09-29 09:00 Beijing
    view = start_big_case(deployed, "C-2031")
    [timer] = deployed.job_list(kind="timer", instance_id=view.id)
    # no 2031 holiday data: weekends only; P10D ends Thursday 10-09
    assert timer.due_at.isoformat() == "2031-10-09T16:00:00+00:00"
    waiting = deployed.start("case_flow", "C-2031-b", "J0104")
    [register] = deployed.tasks(instance_id=waiting.id)
    assert register.due_provisional and register.due_at.isoformat() == "2031-10-06T16:00:00+00:00"  # P7D → Mon 10-06
    national_day = [(date(2031, 10, d), True, "国庆节") for d in range(1, 11)]
    assert deployed.add_holiday_year(2031, national_day, "State Council 2030 notice") >= 1
    [timer] = deployed.job_list(kind="timer", instance_id=view.id)
    # Thursday 10-09 is now a holiday: the period ends on the next working day, Monday 10-13, at 24:00
    assert timer.due_at.isoformat() == "2031-10-13T16:00:00+00:00"
    [register] = deployed.tasks(instance_id=waiting.id)
    assert not register.due_provisional and register.due_at.isoformat() == "2031-10-13T16:00:00+00:00"


def test_message_for_a_suspended_case_is_held_until_it_resumes(deployed):
    view = start_big_case(deployed, "C-held")
    deployed.complete_task(only_task(deployed, view.id, "decide").task_id, "officer", {})
    deployed.complete_task(only_task(deployed, view.id, "review").task_id, "panel", {})
    deployed.suspend(view.id, "supervisor", "transfer to bankruptcy review")
    result = deployed.correlate("payment_received", "C-held", {"amount": 3}, court="J0104")
    assert (result.status, result.instance_ids) == ("held", (view.id,))
    assert [m.status for m in deployed.inbox("held")] == ["held"]
    deployed.resume(view.id, "supervisor", "bankruptcy refused")
    deployed.run_until_idle()
    assert deployed.instance(view.id).status == "completed"
    assert deployed.variables(view.id)["payment"] == {"amount": 3}
    assert "message_held" in [e.action for e in deployed.events(view.id)]


def test_two_officers_completing_at_the_same_moment(deployed, db_url, monkeypatch):
    """Both transactions load the same version; exactly one commits, the other gets a clear conflict."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serializes writers (BEGIN IMMEDIATE); test_stale_writer_gets_a_conflict covers it")
    import threading

    from engine.kernel.unit_of_work import UnitOfWork

    view = start_big_case(deployed)
    decide = only_task(deployed, view.id, "decide")
    deployed.add_user("officer2", "执行 周", [("J0104", "implementation_officer")])
    barrier = threading.Barrier(2, timeout=10)
    real_load = UnitOfWork.load

    def load_then_wait(self, instance_id):
        handle = real_load(self, instance_id)
        barrier.wait()          # both writers hold the same version before either saves
        return handle

    monkeypatch.setattr(UnitOfWork, "load", load_then_wait)
    outcomes = {}

    def complete(user):
        try:
            deployed.complete_task(decide.task_id, user, {"by": user})
            outcomes[user] = "ok"
        except ConcurrentModification as exc:
            outcomes[user] = f"conflict: {exc}"

    threads = [threading.Thread(target=complete, args=(u,)) for u in ("officer", "officer2")]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(v.split(":")[0] for v in outcomes.values()) == ["conflict", "ok"]
    assert "reload it and try again" in [v for v in outcomes.values() if v != "ok"][0]
    monkeypatch.undo()
    completed = [e for e in deployed.events(view.id) if e.action == "task_completed" and e.bpmn_id == "decide"]
    assert len(completed) == 1 and deployed.instance(view.id).open_tasks == ("review",)


def test_a_long_loop_does_not_end_by_itself(engine):
    """SpiffWorkflow's iterators stop at tree depth 1000: without the engine's fix this case would look
    completed after ~250 visits of a 4-step loop."""
    engine.deploy([ENGINE_BPMN.parent / "loop"])
    view = engine.start("review_loop", "C-loop", "J0104", {"visits": 0, "done": False})
    for _ in range(260):
        [task] = engine.tasks(instance_id=view.id)
        engine.complete_task(task.task_id, "officer", {"done": False})
    assert engine.instance(view.id).status == "running"
    assert engine.variables(view.id)["visits"] == 260
    [task] = engine.tasks(instance_id=view.id)
    engine.complete_task(task.task_id, "officer", {"done": True})
    assert engine.instance(view.id).status == "completed"
