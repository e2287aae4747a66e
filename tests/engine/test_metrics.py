"""执行质效指标 (metrics supervisors rely on), on a real SQLite file and PostgreSQL.

Cases are ``metrics_case`` instances (tests/bpmn/metrics/), a stand-in for the main case that keeps the contract's
case fields current, driven through the real engine on the virtual clock: started on their filing day, updated by
the officer's task completions, closed by recording ``closed_on``, ``closing_mode`` and ``performance``. Every
expected figure below is counted by hand from ``PLAN``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.errors import InvalidInput
from engine.legaltime.periods import COURT_TZ
from engine.store.tables import definitions
from tools import bench

METRICS_BPMN = Path(__file__).parents[1] / "bpmn" / "metrics"
PROCESS = "metrics_case"
YEAR = (date(2026, 1, 1), date(2026, 12, 31))


def _no(year, serial, court="川0104", case_type="执"):
    return f"（{year}）{court}{case_type}{serial}号"


A1, A2 = _no(2025, 1), _no(2025, 2)
C1, C2, C3, C4, C5, C6, C7, C8, C9 = (_no(2026, i) for i in range(1, 10))
R1, P1 = _no(2026, 1, case_type="执恢"), _no(2026, 1, case_type="执保")
S1 = _no(2026, 1, court="川0105")
LATE = _no(2027, 1)

# (court day, case, action, fields): "start" files the case, "record" is the officer's update, "close" records the
# closing (closed_on = that day), "terminate" is an administrator ending the instance without a closing
PLAN = [
    ("2025-11-03", A1, "start", dict(stage="start", amount=8000)),
    ("2025-11-03", A2, "start", dict(stage="start", has_assets=True, amount=100000, term_due_on="2026-05-03")),
    ("2025-12-20", A1, "close", dict(closing_mode="performed", performance="voluntary", money_received=8000)),
    ("2026-02-02", C1, "start", dict(stage="start", has_assets=True, amount=50000, term_due_on="2026-08-02")),
    ("2026-02-02", C2, "start", dict(stage="start", has_assets=False, amount=200000)),
    ("2026-02-02", C3, "start", dict(stage="start", amount=10000)),
    ("2026-03-02", C4, "start", dict(stage="control", has_assets=True, term_due_on="2026-09-02")),
    ("2026-03-02", C5, "start", dict(stage="control", term_due_on="2027-03-02")),
    ("2026-03-02", C6, "start", dict(stage="suspended", term_due_on="2026-09-02")),
    ("2026-03-10", A2, "close", dict(closing_mode="performed", performance="coercive", money_received=100000)),
    ("2026-04-01", R1, "start", dict(stage="start", amount=5000)),
    ("2026-04-01", P1, "start", dict(stage="control")),
    ("2026-05-01", R1, "close", dict(closing_mode="performed", performance="voluntary", money_received=5000)),
    ("2026-05-04", S1, "start", dict(stage="control")),
    ("2026-05-04", C7, "start", dict(stage="start")),
    ("2026-05-05", C7, "terminate", {}),
    ("2026-06-01", C2, "close", dict(closing_mode="zhongben", performance=None, qualified_zhongben=True,
                                     money_received=0)),
    ("2026-06-01", C8, "start", dict(stage="control", term_due_on="2027-06-01")),
    ("2026-07-01", C3, "close", dict(closing_mode="zhongben", performance=None, qualified_zhongben=False,
                                     money_received=1000)),
    ("2026-09-01", C1, "close", dict(closing_mode="performed", performance="settlement", money_received=30000)),
    ("2026-12-10", C8, "record", dict(stage="realisation")),
    ("2026-12-15", S1, "record", dict(stage="control")),
    ("2026-12-20", C4, "record", dict(stage="realisation")),
    ("2026-12-25", P1, "record", dict(stage="control")),
    ("2027-01-05", LATE, "start", dict(stage="start")),
    ("2027-01-10", C8, "close", dict(closing_mode="performed", performance="voluntary")),
]
FINISHED = {"performed"}      # a performed case's instance ends; a 终本 case stays open (post-closing management)


def _nine_am(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time().replace(hour=9), COURT_TZ)


def _run_plan(engine, clock) -> dict[str, int]:
    ids: dict[str, int] = {}
    for day, case_no, action, fields in PLAN:
        clock.set(_nine_am(day))
        if action == "start":
            court = "川0105" if "川0105" in case_no else "川0104"
            ids[case_no] = engine.start(PROCESS, case_no, court, dict(fields, finished=False), actor="lian").id
        elif action == "terminate":
            engine.terminate(ids[case_no], "admin", "filed twice by mistake")
        else:
            data = dict(fields)
            if action == "close":
                data.update(stage="closed", closed_on=day, finished=fields["closing_mode"] in FINISHED)
            [task] = engine.tasks(instance_id=ids[case_no])
            engine.complete_task(task.task_id, "chengban", data)
    return ids


@pytest.fixture
def court_year(engine, clock):
    """The plan run through the engine; the clock then stands on 2027-01-15 (after the year)."""
    engine.add_court("川01", "成都市中级人民法院", "intermediate")
    engine.add_court("川0104", "成都市锦江区人民法院", "basic", "川01")
    engine.add_court("川0105", "成都市青羊区人民法院", "basic", "川01", settings={"idle_node_days": 10})
    engine.add_user("chengban", "执行 陈", [(court, "implementation_officer") for court in ("川0104", "川0105")])
    engine.deploy([METRICS_BPMN])
    ids = _run_plan(engine, clock)
    clock.set(_nine_am("2027-01-15"))
    return engine, ids


def _ratio(m, key):
    r = m.ratio(key)
    return r.numerator, r.denominator


def test_the_case_fields_the_metrics_read_are_kept_by_the_engine(court_year):
    engine, ids = court_year
    with engine.db.connect() as conn:
        fields = conn.execute(sa.text("SELECT fields FROM instances WHERE id = :id"), {"id": ids[C2]}).scalar()
    fields = json.loads(fields) if isinstance(fields, str) else fields
    assert (fields["closing_mode"], fields["closed_on"], fields["qualified_zhongben"]) == \
        ("zhongben", "2026-06-01", True)


def test_ratios_of_a_court_year(court_year):
    engine, _ids = court_year
    m = engine.metrics("川0104", *YEAR, process_id=PROCESS)
    assert (m.as_of, m.courts) == (date(2026, 12, 31), ("川0104",))
    # 执结率: A2 pending at the start + C1-C6, C8 new (C7 was terminated unclosed; 执恢/执保 left out)
    assert _ratio(m, "closing_rate") == (4, 8)        # A2, C1, C2, C3 closed
    assert m.ratio("closing_rate").parts == {"pending_at_start": 1, "new": 7,
                                             "excluded_case_types": ["执恢", "执保"]}
    assert (m.counts["new"], m.counts["closed"]) == (9, 5)                      # with R1 and P1; R1 closed
    assert _ratio(m, "zhongben_rate") == (2, 5)                                 # C2, C3
    assert _ratio(m, "qualified_zhongben_rate") == (1, 2)                       # C2
    assert m.ratio("qualified_zhongben_rate").met is False                      # target 90%
    assert _ratio(m, "actual_execution_rate") == (3, 5)                         # A2, C1, R1
    assert _ratio(m, "voluntary_rate") == (1, 5)                                # R1
    assert _ratio(m, "money_recovery_rate") == (136000, 365000)
    # with assets: A2 in time, C1 late (settled after its term), C4 pending past its term
    assert _ratio(m, "in_time_rate") == (1, 3)
    assert m.ratio("in_time_rate").parts == {"closed_with_assets": 2, "pending_past_term": 1}
    assert m.counts["ended_without_closing"] == 1                               # C7


def test_backlog_overdue_and_idle_at_the_end_of_the_year(court_year):
    engine, ids = court_year
    m = engine.metrics("川0104", *YEAR, process_id=PROCESS)
    # C8 was closed in 2027: pending on 2026-12-31, shown in the stage it is in now
    assert m.backlog_by_stage == {"closed": 1, "control": 2, "realisation": 1, "suspended": 1}
    assert m.counts["pending_at_end"] == 5
    # C6 is past its term too, but suspended (中止): the term clock is paused
    assert [(c.case_no, c.since, c.days) for c in m.overdue.cases] == [(C4, "2026-09-02", 120)]
    assert m.overdue.count == 1
    # C5: nothing done by a person since it was filed; C4, C8, P1 had acts in December
    assert [(c.case_no, c.instance_id, c.since, c.days) for c in m.idle.cases] == [(C5, ids[C5], "2026-03-02", 304)]
    assert "30 days" in m.idle.rule


def test_subordinate_courts_and_their_own_idle_setting(court_year):
    engine, _ids = court_year
    m = engine.metrics("川01", *YEAR, process_id=PROCESS, include_subordinates=True)
    assert m.courts == ("川01", "川0104", "川0105")
    assert _ratio(m, "closing_rate") == (4, 9)                                  # + S1 received
    # S1's last act was on 12-15: idle under 川0105's 10 days, not under 川0104's 30
    assert [c.case_no for c in m.idle.cases] == [C5, S1]
    assert "川0105 10 days" in m.idle.rule
    alone = engine.metrics("川0105", *YEAR, process_id=PROCESS)
    assert (alone.counts["new"], alone.idle.count) == (1, 1)


def test_a_past_half_year_is_counted_on_its_last_day(court_year):
    engine, _ids = court_year
    m = engine.metrics("川0104", date(2026, 1, 1), date(2026, 6, 30), process_id=PROCESS)
    assert m.as_of == date(2026, 6, 30)
    assert m.counts["closed"] == 3                                              # A2, R1, C2
    assert m.counts["pending_at_end"] == 7                                      # C1, C3, C4, C5, C6, C8, P1
    # idle on 06-30 (30 days): C1, C3, C4, C5, P1 had no act since filing; C8 was filed on 06-01
    assert [c.case_no for c in m.idle.cases] == [C1, C3, C4, C5, P1]
    assert m.overdue.count == 0


def test_a_running_period_is_counted_today(clock, court_year):
    engine, _ids = court_year
    clock.set(_nine_am("2026-07-15"))        # read the 2026 figures in mid-July (events after today are ignored)
    m = engine.metrics("川0104", *YEAR, process_id=PROCESS)
    assert m.as_of == date(2026, 7, 15)
    assert m.counts["pending_at_end"] == 6                                      # C1, C4, C5, C6, C8, P1


def test_json_and_bad_periods(court_year):
    engine, _ids = court_year
    data = engine.metrics("川0104", "2026-01-01", "2026-12-31", process_id=PROCESS).to_dict()
    json.dumps(data, ensure_ascii=False)
    assert data["ratios"]["closing_rate"]["value"] == 0.5 and data["as_of"] == "2026-12-31"
    with pytest.raises(InvalidInput):
        engine.metrics("川0104", date(2026, 12, 31), date(2026, 1, 1))
    empty = engine.metrics("川0104", *YEAR)      # the real main case (enforcement_case) has no instances here
    assert empty.ratio("closing_rate").value is None and empty.counts["closed"] == 0


def test_bulk_court_year_matches_a_recount_and_is_fast(engine, db_url, clock):
    """10,000 bulk-loaded cases (rows only): the SQL figures equal a recount in Python, and the time is printed
    (run with -s to see it; ``zhixing bench`` reports it as metrics_ms_10k on SQLite)."""
    engine.deploy([METRICS_BPMN])
    with engine.db.begin() as conn:
        definition_id = conn.execute(sa.select(definitions.c.id).where(definitions.c.process_id == PROCESS)).scalar()
        bench.bulk_cases(conn, definition_id, bench.METRICS_CASES, court="川0104")
        bench.bulk_cases(conn, definition_id, 2000, court="川0105", seed=5)     # another court: not counted
        rows = [r.fields if isinstance(r.fields, dict) else json.loads(r.fields) for r in
                conn.execute(sa.text("SELECT fields FROM instances WHERE court = '川0104'"))]
    clock.set(_nine_am("2027-02-01"))
    engine.metrics("川0104", *YEAR, process_id=PROCESS)                         # warm up
    t0 = time.perf_counter()
    m = engine.metrics("川0104", *YEAR, process_id=PROCESS)
    elapsed_ms = (time.perf_counter() - t0) * 1000
    print(f"\nmetrics over {bench.METRICS_CASES:,} cases on {db_url.split(':')[0]}: {elapsed_ms:.0f} ms")
    closed = [f for f in rows if f["closed_on"] and "2026-01-01" <= f["closed_on"] <= "2026-12-31"]
    assert m.counts["closed"] == len(closed)
    assert m.counts["closed_zhongben_qualified"] == sum(f["closing_mode"] == "zhongben" and f["qualified_zhongben"]
                                                        for f in closed)
    assert m.counts["money_received_closed"] == pytest.approx(sum(f["money_received"] for f in closed), abs=0.01)
    assert m.counts["pending_at_end"] == sum(not f["closed_on"] for f in rows)
    assert m.counts["overdue"] == sum(not f["closed_on"] and f["stage"] != "suspended"
                                      and f["term_due_on"] < "2026-12-31" for f in rows)
    assert len(m.idle.cases) == 50 and m.idle.count > 50
    assert elapsed_ms < 5000


def test_command_line(engine, db_url):
    """``zhixing metrics`` prints each figure with its numerator and denominator, or one JSON object."""
    engine.deploy([METRICS_BPMN])
    with engine.db.begin() as conn:
        definition_id = conn.execute(sa.select(definitions.c.id).where(definitions.c.process_id == PROCESS)).scalar()
        bench.bulk_cases(conn, definition_id, 300, court="川0104")

    def run(*extra):
        args = ["metrics", "--court", "川0104", "--from", "2025-07-01", "--to", "2025-12-31", "--process", PROCESS,
                "--list", "3", *extra]
        return subprocess.run([sys.executable, "-c", "from web.cli import main; main()", *args], capture_output=True,
                              env=dict(os.environ, DATABASE_URL=db_url), text=True, timeout=120)

    expected = engine.metrics("川0104", date(2025, 7, 1), date(2025, 12, 31), process_id=PROCESS, list_limit=3)
    text = run()
    assert text.returncode == 0, text.stderr
    closing = expected.ratio("closing_rate")
    assert f"{closing.numerator:>16}  cases closed in the period" in text.stdout
    assert f"{closing.denominator:>16}  cases pending at the start" in text.stdout
    assert f"{expected.idle.cases[0].case_no}" in text.stdout
    printed = json.loads(run("--json").stdout)
    assert printed["counts"] == expected.counts and printed["as_of"] == "2025-12-31"
    bad = run("--court", "川0104", "--from", "2025-13-01")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
