"""Court boundaries (法院边界, issue 11 part 7): messages stay inside the sender's court or its recorded relations,
the inbox records the court, case numbers are the engine's, separation of duties reads recorded relations only.
On SQLite and PostgreSQL (the ``db_url`` fixture)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from boundary_diagrams import FILED_HIGHER_REVIEW, FILED_REVIEW, HIGHER_REVIEW, REVIEW, RULE_FORM

from engine import Forbidden, InvalidInput
from engine.store.tables import case_relations, messages

from testpaths import ENGINE_BPMN

JINJIANG, QINGYANG, CHENGDU = "川0104", "川0105", "川01"
CASE_1 = "（2026）川0104执1号"
CASE_2 = "（2026）川0104执2号"


@pytest.fixture
def courts(engine):
    engine.add_court("川", "四川省高级人民法院", "high")
    engine.add_court(CHENGDU, "成都市中级人民法院", "intermediate", "川")
    engine.add_court(JINJIANG, "成都市锦江区人民法院", "basic", CHENGDU)
    engine.add_court(QINGYANG, "成都市青羊区人民法院", "basic", CHENGDU)
    engine.add_court("渝0103", "重庆市渝中区人民法院", "basic")
    for court, who in ((JINJIANG, "jj"), (QINGYANG, "qy"), (CHENGDU, "cd"), ("渝0103", "yz")):
        engine.add_user(f"{who}_clerk", f"立案 {who}", [(court, "filing_clerk")])
        engine.add_user(f"{who}_officer", f"执行 {who}", [(court, "implementation_officer"), (court, "panel_member")])
        engine.add_user(f"{who}_judge", f"审查 {who}", [(court, "review_judge")])
        engine.add_user(f"{who}_panel", f"合议庭 {who}", [(court, "panel_member")])
    engine.add_user("jj_both", "兼任 钱", [(JINJIANG, "filing_clerk"), (JINJIANG, "review_judge")])
    engine.deploy([ENGINE_BPMN])
    engine.deploy({"review.bpmn": REVIEW, "filed_review.bpmn": FILED_REVIEW, "higher_review.bpmn": HIGHER_REVIEW,
                   "filed_higher_review.bpmn": FILED_HIGHER_REVIEW, **RULE_FORM})
    return engine


def task(engine, instance_id, bpmn_id):
    [found] = [t for t in engine.tasks(instance_id=instance_id) if t.bpmn_id == bpmn_id]
    return found


def waiting_for_payment(engine, case_no, who="jj", user=None):
    """A big case of the court up to its wait for the payment (register, decide, review done)."""
    court = {"jj": JINJIANG, "qy": QINGYANG}[who]
    view = engine.start("case_flow", case_no, court, {"applicant": "甲公司"}, actor=f"{who}_clerk")
    engine.complete_task(task(engine, view.id, "register").task_id, user or f"{who}_clerk",
                         {"debtor": "乙公司", "amount": 250000})
    engine.run_until_idle()
    engine.complete_task(task(engine, view.id, "decide").task_id, f"{who}_officer", {})
    engine.complete_task(task(engine, view.id, "review").task_id, f"{who}_panel", {})
    engine.run_until_idle()
    return view


def inbox_rows(engine):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(messages).order_by(messages.c.id)).all()


# -- messages ---------------------------------------------------------------------------------------------------
def test_a_message_from_another_court_is_refused_and_the_case_keeps_waiting(courts):
    view = waiting_for_payment(courts, CASE_1)
    with pytest.raises(Forbidden) as refused:
        courts.correlate("payment_received", CASE_1, {"amount": 80000}, actor="qy_officer", court=QINGYANG)
    assert refused.value.code == "message.foreign_court"
    with pytest.raises(InvalidInput) as no_court:
        courts.correlate("payment_received", CASE_1, {"amount": 80000}, actor="someone")
    assert no_court.value.code == "message.court_required"
    assert courts.instance(view.id).status == "running" and inbox_rows(courts) == []
    ok = courts.correlate("payment_received", CASE_1, {"amount": 250000}, actor="jj_officer", court=JINJIANG)
    assert (ok.status, ok.instance_ids) == ("delivered", (view.id,))
    assert courts.variables(view.id)["payment"] == {"amount": 250000}


def test_a_waiting_case_of_another_court_is_not_reached_by_a_free_key(courts):
    """A key that is not an official number (the engine tests' court J0104 numbers freely) still reaches only
    cases of the sender's court."""
    view = courts.start("case_flow", "J-1", "J0104", {"applicant": "甲公司"}, actor="clerk")
    courts.complete_task(task(courts, view.id, "register").task_id, "clerk", {"debtor": "乙公司", "amount": 250000})
    courts.run_until_idle()
    courts.complete_task(task(courts, view.id, "decide").task_id, "officer", {})
    courts.complete_task(task(courts, view.id, "review").task_id, "panel", {})
    with pytest.raises(Forbidden) as refused:
        courts.correlate("payment_received", "J-1", {"amount": 5}, actor="qy_officer", court=QINGYANG)
    assert refused.value.code == "message.foreign_court"
    assert courts.correlate("payment_received", "J-1", {"amount": 5}, court="J0104").status == "delivered"


def test_the_inbox_records_the_court_and_a_kept_forgery_never_reaches_another_courts_case(courts):
    """The attack: 川0105 files an objection of its own whose diagram throws a payment to a 川0104 case that does
    not exist yet; the thrown message is kept for 川0105 only, the 川0104 case filed later never gets it."""
    forged = courts.correlate("objection_filed", "（2026）川0105执9号", {"main_case": CASE_2}, actor="qy_officer",
                              court=QINGYANG)
    assert forged.status == "started"
    courts.complete_task(task(courts, forged.instance_ids[0], "rule").task_id, "qy_judge", {})
    courts.run_until_idle()
    [kept] = inbox_rows(courts)
    assert (kept.name, kept.correlation_key, kept.status, kept.court, kept.sender_case) == \
        ("payment_received", CASE_2, "unmatched", QINGYANG, "（2026）川0105执9号")
    # the outside sender of 川0105 cannot key a message on a 川0104 number at all
    with pytest.raises(Forbidden, match="belongs to court 川0104"):
        courts.correlate("payment_received", CASE_2, {"amount": 80000}, actor="qy_officer", court=QINGYANG)
    # 川0104 keeps its own early message for the same case: it is delivered, the forgery stays in the inbox
    early = courts.correlate("payment_received", CASE_2, {"amount": 250000}, actor="jj_officer", court=JINJIANG)
    assert early.status == "unmatched" and inbox_rows(courts)[1].court == JINJIANG
    view = waiting_for_payment(courts, CASE_2)
    assert courts.instance(view.id).status == "completed"
    assert courts.variables(view.id)["payment"] == {"amount": 250000}
    statuses = {r.court: r.status for r in inbox_rows(courts)}
    assert statuses == {QINGYANG: "unmatched", JINJIANG: "delivered"}


def test_a_thrown_message_reaches_a_case_of_its_own_court(courts):
    view = waiting_for_payment(courts, CASE_1)
    objection = courts.correlate("objection_filed", "（2026）川0104执异1号", {"main_case": CASE_1},
                                 actor="jj_officer", court=JINJIANG)
    courts.complete_task(task(courts, objection.instance_ids[0], "rule").task_id, "jj_judge", {})
    courts.run_until_idle()
    assert courts.instance(view.id).status == "completed"
    assert courts.variables(view.id)["payment"] == {"case_no": CASE_1, "amount": 5}


def test_a_thrown_message_crosses_courts_only_along_a_recorded_relation(courts):
    """The higher court's review of a 川0104 case is recorded as related (hierarchy: 川01 is 川0104's parent), so
    the message its diagram throws reaches the lower court's case; an unrelated case of 川01 does not."""
    view = waiting_for_payment(courts, CASE_1)
    unrelated = courts.correlate("objection_filed", "（2026）川01执他1号", {"main_case": CASE_1}, actor="cd_officer",
                                 court=CHENGDU)
    courts.complete_task(task(courts, unrelated.instance_ids[0], "rule").task_id, "cd_judge", {})
    courts.run_until_idle()
    assert courts.instance(view.id).status == "running"
    assert [(m.court, m.status) for m in inbox_rows(courts)] == [(CHENGDU, "unmatched")]
    with pytest.raises(Forbidden) as sibling:       # 川0105 is beside 川0104, not above it: no review of it
        courts.correlate("higher_review_filed", CASE_1, {"main_case": CASE_1}, actor="qy_officer", court=QINGYANG)
    assert sibling.value.code == "relation.foreign_court"
    with pytest.raises(Forbidden):                  # above, but an objection (执异) is filed at the enforcing court
        courts.correlate("review_filed", CASE_1, {"main_case": CASE_1}, actor="cd_officer", court=CHENGDU)
    review = courts.correlate("higher_review_filed", CASE_1, {"main_case": CASE_1}, actor="cd_officer",
                              court=CHENGDU)
    assert courts.instance(review.instance_ids[0]).case_no == "（2026）川01执复1号"
    courts.complete_task(task(courts, review.instance_ids[0], "rule").task_id, "cd_judge", {})
    courts.run_until_idle()
    assert courts.instance(view.id).status == "completed"
    assert courts.variables(view.id)["payment"] == {"case_no": CASE_1, "amount": 5}


# -- case numbers -----------------------------------------------------------------------------------------------
def test_case_numbers_are_the_engines(courts):
    with pytest.raises(InvalidInput) as foreign:
        courts.start("case_flow", CASE_1, QINGYANG, actor="qy_clerk")
    assert foreign.value.code == "case_no.foreign_court" and foreign.value.field_errors == {"case_no": "foreign_court"}
    assert "case_no" in str(foreign.value) and "川0104" in str(foreign.value)
    for bad in ("执1号", "（2026）川0105执一号", "(2026)川0105执1号", "（2026）川0105执1号 "):
        with pytest.raises(InvalidInput, match="case_no") as wrong:
            courts.start("case_flow", bad, QINGYANG, actor="qy_clerk")
        assert wrong.value.code == "case_no.format", bad
    courts.start("case_flow", "（2026）川0105执1号", QINGYANG, actor="qy_clerk")
    with pytest.raises(InvalidInput) as taken:
        courts.start("case_flow", "（2026）川0105执1号", QINGYANG, actor="qy_clerk")
    assert taken.value.code == "case_no.taken"
    assert courts.instances_of_case(CASE_1) == []


def test_an_imported_number_is_skipped_by_the_counter(courts):
    courts.start("case_flow", CASE_1, JINJIANG, actor="jj_clerk")
    imported = courts.start("review", "（2026）川0104执异1号", JINJIANG, actor="jj_clerk", related_case_no=CASE_1)
    allocated = courts.start("review", None, JINJIANG, actor="jj_clerk", related_case_no=CASE_1)
    assert (imported.case_no, allocated.case_no) == ("（2026）川0104执异1号", "（2026）川0104执异2号")


def test_another_procedure_of_a_case_stays_in_its_court(courts):
    courts.start("case_flow", CASE_1, JINJIANG, actor="jj_clerk")
    same = courts.start("objection", CASE_1, JINJIANG, {"objection": {"main_case": CASE_1}}, actor="jj_clerk",
                        of_case=True)
    assert same.case_no == CASE_1
    with pytest.raises(Forbidden) as foreign:
        courts.start("objection", CASE_1, QINGYANG, {"objection": {"main_case": CASE_1}}, actor="qy_clerk",
                     of_case=True)
    assert foreign.value.code == "case_no.foreign_court"


# -- relations and separation of duties --------------------------------------------------------------------------
def test_relations_are_checked_and_recorded(courts):
    courts.start("case_flow", CASE_1, JINJIANG, actor="jj_clerk")
    with pytest.raises(InvalidInput) as unknown:
        courts.start("filed_review", None, JINJIANG, actor="jj_clerk", related_case_no="（2026）川0104执99号")
    assert unknown.value.code == "relation.unknown_case" and unknown.value.field_errors == {"related_case_no": "unknown"}
    with pytest.raises(Forbidden) as sibling:       # 川0105 is beside 川0104, not above it
        courts.start("filed_review", None, QINGYANG, actor="qy_clerk", related_case_no=CASE_1)
    assert sibling.value.code == "relation.foreign_court"
    with pytest.raises(Forbidden):                  # another province's court
        courts.start("filed_review", None, "渝0103", actor="yz_clerk", related_case_no=CASE_1)
    with pytest.raises(InvalidInput) as missing:    # a review separates duties: it needs its related case
        courts.start("filed_review", None, JINJIANG, {"related_case_no": CASE_1}, actor="jj_clerk")
    assert missing.value.code == "relation.required" and "related_case_no" in missing.value.field_errors
    with pytest.raises(Forbidden):                  # a 执异 case of the court above: not a review of it
        courts.start("filed_review", None, CHENGDU, actor="cd_clerk", related_case_no=CASE_1)
    courts.start("case_flow", "（2026）川01执1号", CHENGDU, actor="cd_clerk")
    with pytest.raises(Forbidden):                  # the lower court cannot link itself to the higher court's case
        courts.start("filed_higher_review", None, JINJIANG, actor="jj_clerk", related_case_no="（2026）川01执1号")
    up = courts.start("filed_higher_review", None, CHENGDU, {"objection": {"main_case": CASE_1}}, actor="cd_clerk",
                      related_case_no=CASE_1)
    assert up.case_no == "（2026）川01执复1号"
    with courts.db.connect() as conn:
        rows = conn.execute(sa.select(case_relations)).all()
    assert [(r.case_no, r.court, r.related_case_no, r.related_court, r.recorded_by) for r in rows] == \
        [(up.case_no, CHENGDU, CASE_1, JINJIANG, "cd_clerk")]


def _main_case_worked_by_jj_both(courts):
    """The enforcement case; jj_both (clerk and review judge) registers it, so may not rule on a review of it."""
    main = courts.start("case_flow", CASE_1, JINJIANG, actor="jj_clerk")
    courts.complete_task(task(courts, main.id, "register").task_id, "jj_both", {"debtor": "乙公司", "amount": 10})
    return main


def _review(courts, related, data=None):
    return courts.start("filed_review", None, JINJIANG, dict(data or {}, objection={"main_case": related}),
                        actor="jj_clerk", related_case_no=related)


def test_separation_of_duties_reads_the_recorded_relation(courts):
    _main_case_worked_by_jj_both(courts)
    review = _review(courts, CASE_1)
    rule = task(courts, review.id, "rule")
    with pytest.raises(Forbidden) as barred:
        courts.complete_task(rule.task_id, "jj_both", {})
    assert barred.value.code == "sod.excluded" and barred.value.params["on_case"] == CASE_1
    courts.complete_task(rule.task_id, "jj_judge", {})
    # the review started by a message records its relation the same way
    by_message = courts.correlate("review_filed", CASE_1, {"main_case": CASE_1}, actor="jj_officer", court=JINJIANG)
    with pytest.raises(Forbidden, match="separation of duties"):
        courts.complete_task(task(courts, by_message.instance_ids[0], "rule").task_id, "jj_both", {})


def test_a_relation_only_in_case_data_is_not_honoured(courts):
    """The case data says the review is about case 1 (forged or typed): the engine reads the recorded relation
    (case 3) and drops the claim, so neither the separation nor a message follows the data."""
    _main_case_worked_by_jj_both(courts)
    courts.start("case_flow", "（2026）川0104执3号", JINJIANG, actor="jj_clerk")
    review = _review(courts, "（2026）川0104执3号", {"related_case_no": CASE_1})
    assert courts.variables(review.id)["related_case_no"] == "（2026）川0104执3号"
    started = [e for e in courts.events(review.id) if e.action == "instance_started"][0]
    assert started.data["related_case_no"] == "（2026）川0104执3号"
    courts.complete_task(task(courts, review.id, "rule").task_id, "jj_both", {})     # case 1 does not bar


def test_a_review_whose_relation_is_not_recorded_fails_closed(courts):
    """A review filed before relations were recorded (its row gone): the separation cannot be checked, so the
    task is refused rather than let through."""
    _main_case_worked_by_jj_both(courts)
    review = _review(courts, CASE_1)
    with courts.db.begin() as conn:
        conn.execute(case_relations.delete())
    with pytest.raises(Forbidden) as refused:
        courts.complete_task(task(courts, review.id, "rule").task_id, "jj_judge", {})
    assert refused.value.code == "sod.no_relation"
