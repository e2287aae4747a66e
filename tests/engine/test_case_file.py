"""The case file (案卷): one row per case, typed records written only by the engine in the step's transaction
(handler declarations, a task's caseRecords, a case's start records), forms that may carry only their declared
fields, diagrams reading the file through ``case.…``, and the schema migration of existing data. SQLite and
PostgreSQL (``db_url``)."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import handlers.builtin  # noqa: F401  (notify.send)
import handlers.enforcement  # noqa: F401  (registers the enforcement handlers with their record declarations)
from engine import Engine, VirtualClock
from engine.definitions.validation import validate_files
from engine.errors import InvalidInput
from engine.kernel import expressions
from engine.kernel.casefile import CaseFacts, Record, parse_form_records
from engine.legaltime import clock as clocks
from engine.store.casefile import RecordInvalid, check_body, header_values
from engine.store.database import ROOT
from engine.store.tables import case_records, cases, events, instances
from handlers import REGISTRY

from testpaths import ENGINE_BPMN

MONEY_FLOW = Path(__file__).parents[1] / "handlers" / "bpmn" / "money_flow.bpmn"
BPMN = ROOT / "bpmn"
WANG = ("510104197803150014", "王建国")
CHEN = ("510107198511203317", "陈大明")
NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)        # Monday 09:00 in Beijing
COURT = "川0104"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHIXING_SANDBOX_DIR", str(tmp_path / "sandbox"))
    monkeypatch.setenv("ZHIXING_DOCUMENT_DIR", str(tmp_path / "documents"))


@pytest.fixture
def real(db_url):
    eng = Engine(db_url, clock=VirtualClock(NOW), registry=REGISTRY)
    if db_url.startswith("postgresql"):
        eng.init_schema()
    eng.add_user("chengban", "执行法官 李", [(COURT, "implementation_officer"), (COURT, "panel_member")])
    yield eng
    eng.close()


def records_of(engine, case_no: str) -> list:
    with engine.db.connect() as conn:
        return conn.execute(sa.select(case_records).join(cases, cases.c.id == case_records.c.case_id)
                            .where(cases.c.case_no == case_no).order_by(case_records.c.id)).all()


def test_a_handler_result_becomes_typed_records_with_provenance(real):
    real.deploy([MONEY_FLOW])
    view = real.start("money_flow", "（2026）川0104执7号", COURT, {"debtor_id": WANG[0], "debtor_name": WANG[1],
                                                                  "claim": 50000})
    real.run_until_idle()
    rows = records_of(real, "（2026）川0104执7号")
    kinds = [r.kind for r in rows]
    assert kinds[0] == "asset_search" and "asset" in kinds and {"measure", "receipt", "document"} <= set(kinds)
    search = rows[0]
    assert search.body["channel"] == "national" and search.body["complete"] is True
    assert {r.body["asset_id"] for r in rows if r.kind == "asset"} >= {"WJG-DEP-01", "WJG-RE-01"}
    assert all(r.via == "service" and r.instance_id == view.id and r.event_seq for r in rows)
    receipt = next(r for r in rows if r.kind == "receipt")
    assert receipt.body["amount"] == "50000.00" and receipt.source == "ledger.receive"
    with real.db.connect() as conn:       # the event that produced it is the service's completion, with its result
        event = conn.execute(sa.select(events).where(events.c.instance_id == view.id,
                                                     events.c.seq == receipt.event_seq)).one()
        row = conn.execute(sa.select(cases).where(cases.c.case_no == "（2026）川0104执7号")).one()
        inst = conn.execute(sa.select(instances.c.case_id).where(instances.c.id == view.id)).scalar()
    assert event.action == "service_completed" and event.data["result"]["receipt_id"] == receipt.body["receipt_id"]
    assert (row.court, row.case_type, row.main_instance_id, inst) == (COURT, "执", view.id, row.id)
    assert row.debtor_name == WANG[1] and row.status == "closed"


def test_a_field_the_form_does_not_declare_is_refused_naming_it(db_url, clock, registry):
    engine = Engine(db_url, clock=clock, registry=registry)
    if db_url.startswith("postgresql"):
        engine.init_schema()
    engine.add_user("clerk", "立案 王", [("J0104", "filing_clerk")])
    engine.deploy([ENGINE_BPMN])
    view = engine.start("case_flow", "（2026）J0104执1号", "J0104", {})
    [task] = engine.tasks(instance_id=view.id)
    receipt = {"receipt_id": "R1", "amount": "5000000.00", "received_at": "2026-03-02T09:00:00+08:00"}
    with pytest.raises(InvalidInput) as refused:
        engine.complete_task(task.task_id, "clerk", {"debtor": "乙公司", "amount": 10, "stage": "closed",
                                                     "forged": receipt})
    assert refused.value.code == "form.undeclared_field" and refused.value.status == 422
    assert refused.value.params["fields"] == ["forged", "stage"]
    assert set(refused.value.field_errors) == {"forged", "stage"}
    assert [t.task_id for t in engine.tasks(instance_id=view.id)] == [task.task_id]      # nothing was saved
    assert "stage" not in engine.variables(view.id)
    engine.close()


def exit_case(engine, number: int, *, clue=True, filed="2026-01-05"):
    case_no = f"（2026）川0104执{number}号"
    notice = f"{case_no}/enforcement_notice-1.docx"
    records = [
        {"kind": "document", "body": {"path": notice, "doc_type": "enforcement_notice", "sha256": "a" * 64,
                                      "generated_at": "2026-01-06T10:00:00+08:00"}},
        {"kind": "document", "body": {"path": f"{case_no}/asset_report_order-1.docx", "sha256": "b" * 64,
                                      "doc_type": "asset_report_order", "generated_at": "2026-01-06T10:00:00+08:00"}},
        {"kind": "service", "body": {"delivery_id": f"DL-{number}", "document": notice, "recipient": CHEN[1],
                                     "role": "debtor", "method": "electronic", "delivered": True,
                                     "sent_at": "2026-01-07T10:00:00+08:00", "served_at": "2026-01-07T10:00:00+08:00"}}]
    if clue:
        records.append({"kind": "clue", "body": {"clue_id": "clue-salary", "source": "applicant",
                                                 "description": "被执行人在某公司领取工资"}})
    view = engine.start("no_asset_exit", case_no, COURT, {
        "debtor_id": CHEN[0], "debtor_name": CHEN[1], "filed_on": filed, "applicant_name": "成都某建材有限公司",
        "basis": "（2025）川0104民初789号民事判决书", "amount": "80000.00", "recovered": "0.00", "blacklist_ground": 4},
        actor="chengban", records=records)
    engine.run_until_idle()
    return view, case_no


def test_the_exit_reads_the_file_and_a_form_records_what_it_declares(real):
    real.deploy([BPMN])
    view, case_no = exit_case(real, 601)
    data = real.variables(view.id)
    assert data["exit_failures"] == ["assets_exhausted"]
    assert "被执行人在某公司领取工资" in data["exit_reasons"]["assets_exhausted"]
    [task] = real.tasks(instance_id=view.id)
    assert task.bpmn_id == "supplement"
    with pytest.raises(InvalidInput) as refused:     # the typed list of old is no field of the form any more
        real.complete_task(task.task_id, "chengban", {"measures_note": "核实", "unverified_clues": []})
    assert refused.value.code == "form.undeclared_field" and refused.value.params["field"] == "unverified_clues"
    with pytest.raises(InvalidInput) as bad:        # a record that does not fit its kind names the field
        real.complete_task(task.task_id, "chengban", {"measures_note": "核实",
                                                      "clue_checks": [{"clue_id": "clue-salary", "result": "maybe"}]})
    assert bad.value.code in ("form.invalid", "form.record_invalid")
    real.complete_task(task.task_id, "chengban", {"measures_note": "已核实", "debtor_searched": True,
                                                  "clue_checks": [{"clue_id": "clue-salary", "result": "nothing"}]})
    real.run_until_idle()
    assert real.variables(view.id)["exit_ok"] is True
    rows = records_of(real, case_no)
    start = [r for r in rows if r.via == "start"]
    assert [r.kind for r in start] == ["document", "document", "service", "clue"]
    form = [r for r in rows if r.via == "form"]
    assert sorted(r.kind for r in form) == ["clue_verification", "whereabouts"]
    assert all(r.actor == "chengban" and r.source == "supplement" and r.task_id == task.task_id for r in form)
    with real.db.connect() as conn:
        header = conn.execute(sa.select(cases).where(cases.c.case_no == case_no)).one()
    assert header.filed_on == date(2026, 1, 5) and header.amount == "80000.00"


def test_a_start_record_is_checked_against_its_kind(real):
    real.deploy([BPMN])
    with pytest.raises(InvalidInput) as refused:
        real.start("no_asset_exit", "（2026）川0104执602号", COURT, {"debtor_id": CHEN[0], "debtor_name": CHEN[1]},
                   records=[{"kind": "receipt", "body": {"receipt_id": "R", "amount": "lots",
                                                         "received_at": "2026-01-01"}}])
    assert refused.value.code == "case.record_invalid" and refused.value.params["field"] == "records.0.amount"
    with real.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar() == 0


def test_record_kinds_are_closed_and_typed():
    assert check_body("receipt", {"receipt_id": "R1", "amount": 86000, "received_at": "2026-03-02"})["amount"] \
        == "86000.00"
    with pytest.raises(RecordInvalid) as extra:
        check_body("receipt", {"receipt_id": "R1", "amount": "1.00", "received_at": "2026-03-02", "x": 1})
    assert extra.value.field == "x"
    with pytest.raises(RecordInvalid):
        check_body("undisposable", {"asset_id": "A", "reason": "officer_says_so"})
    assert header_values({"term_due_on": "+1-1", "amount": "12.5", "owner": "li"}) == {"amount": "12.50",
                                                                                      "owner": "li"}


def test_case_records_declarations_are_checked_at_deploy():
    assert parse_form_records("a: clue[], b: decision.outcome, c: case.owner")[1].attr == "outcome"
    for bad in ("a: nothing", "a: decision.colour", "a: case.secret", "a: clue[].x"):
        with pytest.raises(ValueError):
            parse_form_records(bad)
    files = {p.name: p.read_bytes() for p in BPMN.iterdir() if p.suffix in (".bpmn", ".json", ".dmn")}
    files["no_asset_exit.bpmn"] = files["no_asset_exit.bpmn"].replace(
        b"debtor_searched: whereabouts.searched", b"debtor_found: whereabouts.searched")
    problems = [str(p) for p in validate_files(files, registry=REGISTRY)]
    assert any("caseRecords names the field 'debtor_found'" in p for p in problems)


def facts(records, filed="2026-01-05", today=date(2026, 6, 1)) -> CaseFacts:
    return CaseFacts([Record(i, k, b) for i, (k, b) in enumerate(records)], {"filed_on": date.fromisoformat(filed)},
                     on=today)


def test_case_functions_in_the_safe_language_are_pure_and_read_the_file():
    search = ("asset_search", {"search_id": "Q1", "channel": "national", "categories": ["deposit"], "complete": True,
                               "searched_at": "2026-03-02T09:00:00+08:00", "found": 1})
    asset = ("asset", {"asset_id": "A1", "category": "vehicle"})
    f = facts([search, asset, ("receipt", {"receipt_id": "R", "amount": "100.50", "received_at": "2026-03-03"}),
               ("payout", {"payout_id": "P", "amount": "40.00", "paid_at": "2026-03-04"}),
               ("clue", {"clue_id": "c1", "source": "applicant", "description": "车"})])
    env = expressions.SafeEnvironment()

    def run(text):
        return env.evaluate(text, {}, {"case": f})
    with clocks.using(VirtualClock(NOW)):
        assert run('case.searched_within("P3M", channels="all")') is True
        assert run('case.balance()') == 60.5
        assert run('[a["asset_id"] for a in case.disposable_assets()]') == ["A1"]
        assert run('len(case.unverified_clues())') == 1
        assert run('case.served("enforcement_notice")') is False
    stale = facts([search], today=date(2026, 6, 3))      # the 3-month period from 03-02 ended on 06-02
    assert stale.searched_within("P3M") is False
    held = facts([search, asset, ("undisposable", {"asset_id": "A1", "reason": "queued_behind_other_court"})])
    assert held.disposable_assets() == [] and held.undisposable()[0]["reason"] == "queued_behind_other_court"
    assert expressions.check("case.delete_everything()") != []          # only the declared reads
    with pytest.raises(expressions.ExpressionError):                    # the file cannot be kept in task data
        env.execute("c = case", {}, {"case": f})


def test_the_migration_makes_a_case_row_per_case_and_records_from_the_log(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0009")
    db = sa.create_engine(url)
    at = datetime(2026, 3, 2, 1, 0)
    with db.begin() as conn:
        conn.execute(sa.text("INSERT INTO deployments (id, files_hash, deployed_by, deployed_at) "
                             "VALUES (1, 'x', 'x', :at)"), {"at": at})
        conn.execute(sa.text("INSERT INTO definitions (id, process_id, version, name, content_hash, deployment_id, "
                             "file_name, spec_json, meta, created_at) VALUES (1, 'p', 1, 'p', 'h', 1, 'f', '{}', "
                             "'{}', :at)"), {"at": at})
        for iid in (1, 2):
            conn.execute(sa.text(
                "INSERT INTO instances (id, definition_id, process_id, case_no, court, status, version, state, "
                "serializer_version, state_version, fields, last_seq, last_hash, started_at, updated_at) VALUES "
                "(:id, 1, 'p', '（2026）川0104执5号', '川0104', 'running', 1, x'00', '1', 1, :fields, 1, 'h', :at, :at)"),
                {"id": iid, "at": at, "fields": '{"debtor_name": "王建国", "term_due_on": "+1-1"}'})
        result = {"receipt_id": "R9", "amount": "2400000.00", "payer": "王建国", "source": "transfer",
                  "received_at": "2026-03-02T09:00:00+08:00", "case_no": "（2026）川0104执5号"}
        conn.execute(sa.text("INSERT INTO events (instance_id, seq, at, actor, action, case_no, data, prev_hash, hash) "
                             "VALUES (1, 1, :at, 'system', 'service_completed', '（2026）川0104执5号', :data, 'g', 'h')"),
                     {"at": at, "data": json.dumps({"operator": "ledger.receive", "result": result})})
    command.upgrade(cfg, "head")
    with db.connect() as conn:
        [case] = conn.execute(sa.select(cases)).all()
        ids = conn.execute(sa.select(instances.c.case_id)).scalars().all()
        [record] = conn.execute(sa.select(case_records)).all()
    assert (case.debtor_name, case.term_due_on, case.main_instance_id) == ("王建国", None, 1)
    assert ids == [case.id, case.id]
    assert (record.kind, record.body["amount"], record.via, record.event_seq) == ("receipt", "2400000.00",
                                                                                 "migration", 1)
    db.dispose()


def test_a_form_offers_the_case_s_own_choices_and_refuses_a_forged_one(real):
    real.deploy([BPMN])
    real.add_user("lian", "立案 王", [(COURT, "filing_clerk")])
    real.add_user("zhihui", "指挥中心 刘", [(COURT, "command_centre")])
    real.add_user("waiyuan", "外院 钱", [("川0105", "implementation_officer")])
    view = real.start("enforcement_case", "（2026）川0104执801号", COURT, {}, actor="lian")
    [filing] = real.tasks(instance_id=view.id)
    real.complete_task(filing.task_id, "lian", {
        "conditions_met": True, "applicant_name": "某银行", "debtor_name": WANG[1], "debtor_id": WANG[0],
        "debtor_type": "person", "amount": 50000, "basis": "（2025）川0104民初1号民事判决书",
        "asset_clues": ["被执行人有一辆货车"]})
    real.run_until_idle()
    [assign] = [t for t in real.tasks(instance_id=view.id) if t.bpmn_id == "assign_owner"]
    form = real.casework.task(assign.task_id).form
    assert form["properties"]["owner"]["oneOf"] == [{"const": "chengban", "title": "执行法官 李 (chengban)"}]
    for forged in ("张法官", "waiyuan"):               # not a user; a user of another court
        with pytest.raises(InvalidInput) as refused:
            real.complete_task(assign.task_id, "zhihui", {"owner": forged})
        assert refused.value.code == "form.invalid" and "owner" in refused.value.field_errors
    real.complete_task(assign.task_id, "zhihui", {"owner": "chengban"})
    rows = records_of(real, "（2026）川0104执801号")
    [clue] = [r for r in rows if r.kind == "clue"]
    assert clue.body["description"] == "被执行人有一辆货车" and clue.via == "form" and clue.actor == "lian"
    with real.db.connect() as conn:
        header = conn.execute(sa.select(cases).where(cases.c.case_no == "（2026）川0104执801号")).one()
    assert (header.applicant_name, header.debtor_id, header.owner) == ("某银行", WANG[0], "chengban")
