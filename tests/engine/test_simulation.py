"""``zhixing simulate``: the shipped scenarios pass, a wrong one fails with a clear line, mistakes in a scenario
file are reported as ``file:line: message``, and the CLI exits 0/1 and prints the trace."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.kernel import serialization
from tools.scenarios import ScenarioResult, parse_duration, parse_moment, run_scenario, run_scenario_file

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
PASSING = sorted((SCENARIOS / "engine").glob("*.yaml")) + sorted((SCENARIOS / "procedures").glob("*.yaml"))
FAILING = SCENARIOS / "failing" / "small_case_expects_decide.yaml"
HEAD = """\
court: J0104
deploy: [../../bpmn/engine]
handlers: {test.notify: {result: {sent: true}}}
users:
  clerk: {name: 立案 王, roles: [filing_clerk]}
steps:
"""


@pytest.fixture(autouse=True)
def shared_specs_stay_as_restored():
    """Instances share the spec objects of a process only while running them changes nothing in them
    (``engine.kernel.serialization``): after each scenario, every shared spec still pickles as it did when restored."""
    yield
    assert serialization.changed_shared_specs() == []


def run(steps: str) -> ScenarioResult:
    """Run a scenario made of HEAD (6 lines) and ``steps``; the first step is on line 7."""
    return run_scenario(HEAD + steps, SCENARIOS / "engine", file="s.yaml")


def test_the_shipped_scenarios_cover_the_engine_diagrams():
    assert {p.stem for p in PASSING} >= {"big_case_paid", "small_case_auto_completes", "late_review_timer",
                                         "notify_retries_incident", "separation_of_duties", "objection_routes_back"}


@pytest.mark.parametrize("path", PASSING, ids=lambda p: p.stem)
def test_scenario_passes(path):
    result = run_scenario_file(path)
    assert result.ok, "\n".join(result.trace)
    assert result.failures == [] and "steps passed" in result.summary


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("path", PASSING, ids=lambda p: p.stem)
def test_scenario_passes_on_postgresql(path, db_url, tmp_path, monkeypatch):
    """Every procedure end to end on a real PostgreSQL server too (jsonb case fields, SKIP LOCKED jobs)."""
    monkeypatch.setenv("ZHIXING_SANDBOX_DIR", str(tmp_path / "sandbox"))
    monkeypatch.setenv("ZHIXING_DOCUMENT_DIR", str(tmp_path / "documents"))
    result = run_scenario_file(path, database_url=db_url)
    assert result.ok, "\n".join(result.trace)
    assert result.failures == [] and "steps passed" in result.summary


def test_failing_scenario_reports_the_step_and_what_differs():
    lines = []
    result = run_scenario_file(FAILING, echo=lines.append)
    assert not result.ok
    [failure] = result.failures
    assert failure == (f"{FAILING}:14: step 3 (expect): tasks: expected [decide], found []; "
                       "status: expected running, found completed")
    assert "line 14: step 3 (expect)" in result.summary
    assert lines == result.trace and lines[-1].endswith("FAILED " + failure)
    assert not any("never reached" in line for line in lines)     # the run stops at the first failure


def test_trace_shows_beijing_time_and_what_happened():
    result = run_scenario_file(SCENARIOS / "engine" / "late_review_timer.yaml")
    trace = "\n".join(result.trace)
    assert "2026-03-04 Wed 09:00:00   1. start case_flow C-late" in trace
    assert "timer decide_deadline set, due 2026-03-16 Mon 24:00" in trace      # rolled over the weekend
    assert "2026-03-17 Tue 00:00:00        C-late: timer decide_deadline fired" in trace
    assert "C-late: task decide closed" in trace and "task late_review 'Explain the delay' opened" in trace


def test_retries_run_at_their_backoff_times():
    trace = run_scenario_file(SCENARIOS / "engine" / "notify_retries_incident.yaml").trace
    failed = [line[:24].strip() for line in trace if "notify failed" in line or "INCIDENT" in line]
    assert failed[:3] == ["2026-03-02 Mon 09:00:00", "2026-03-02 Mon 09:00:05", "2026-03-02 Mon 09:00:15"]


@pytest.mark.parametrize("steps, message", [
    ("  - start: {process: case_flow, case: C-1}\n  - finish: {task: register}\n",
     "s.yaml:8: step 2: unknown step 'finish'"),
    ("  - start: {process: case_flow}\n", "s.yaml:7: start: missing field(s) case"),
    ("  - start: {process: case_flow, case: C-1}\n  - expect:\n      due: {register: 2026-02-30}\n",
     "s.yaml:9: expect due: bad date/time '2026-02-30'"),
    ("  - advance: 3 months\n", "s.yaml:7: advance: bad duration '3 months'"),
    ("  - complete: {task: register, as: clerck}\n", "s.yaml:7: complete: unknown user 'clerck' (users: clerk)"),
    ("  - start: {process: case_flow, case: C-1, dat: {}}\n", "s.yaml:7: start: unknown field 'dat'"),
    ("  - expect: {task: [register]}\n", "s.yaml:7: expect: unknown check 'task'"),
    ("  - note: fine\n  - run_jobs\n", "s.yaml:8: step 2: a step is one mapping"),
    ("  - expect_error: {complete: {task: register, as: clerk}}\n", "s.yaml:7: expect_error: expected"),
    ("  - start: {process: case_flow, case: C-1, case: C-2}\n", "s.yaml:7: duplicate key 'case'"),
    ("  - start: {process: case_flow, case: C-1\n  - note: x\n", "s.yaml:8: not valid YAML"),
])
def test_scenario_mistakes_are_reported_with_file_and_line(steps, message):
    result = run(steps)
    assert not result.ok and result.trace == result.failures
    assert result.failures[0].startswith(message), result.failures


def test_unexpected_engine_error_fails_the_step_with_its_message():
    result = run("  - start: {process: case_flow, case: C-1}\n"
                 "  - complete: {task: register, as: clerk, data: {debtor: 乙公司}}\n")
    assert result.failures == ["s.yaml:8: step 2 (complete): InvalidInput: the form has errors: "
                               "amount: 'amount' is a required property"]


def test_expected_error_that_does_not_happen_fails():
    result = run("  - start: {process: case_flow, case: C-1}\n"
                 "  - expect_error: {complete: {task: register, as: clerk, data: {debtor: 乙公司, amount: 5}},"
                 " contains: needs the role}\n")
    assert "s.yaml:8: step 2 (expect_error): expected 'complete register" in result.failures[0]
    assert result.failures[0].endswith("to fail, but it succeeded")


def test_scenario_as_a_dict_and_manual_jobs():
    result = run_scenario({
        "court": "J0104", "deploy": ["../../bpmn/engine"], "jobs": "manual",
        "handlers": {"test.notify": {"result": {"sent": True}}},
        "users": {"clerk": {"roles": ["filing_clerk"]}},
        "steps": [{"start": {"process": "case_flow", "case": "C-1"}},
                  {"complete": {"task": "register", "as": "clerk", "data": {"debtor": "乙公司", "amount": 5}}},
                  {"expect": {"tasks": [], "status": "running", "handler_calls": {"test.notify": 0}}},
                  {"run_jobs": True},
                  {"expect": {"status": "completed", "handler_calls": {"test.notify": 1}}}]},
        SCENARIOS / "engine")
    assert result.ok, result.trace


def test_values():
    assert parse_moment("2026-03-09")[0].isoformat() == "2026-03-09T09:00:00+08:00"
    assert parse_moment("2026-03-09 17:30")[0].isoformat() == "2026-03-09T17:30:00+08:00"
    assert parse_moment("2026-03-09T09:30Z")[0].isoformat() == "2026-03-09T09:30:00+00:00"
    assert [parse_duration(s).total_seconds() for s in ("P11D", "PT5S", "P1DT2H", "3 days", "90 minutes", "10日")] \
        == [950400, 5, 93600, 259200, 5400, 864000]
    for bad in ("P1M", "3 months", "P3WD", "soon"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "from web.cli import main; main()", "simulate", *map(str, args)],
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def test_cli_exit_codes_and_trace():
    passed = _cli(SCENARIOS / "engine" / "small_case_auto_completes.yaml")
    assert passed.returncode == 0, passed.stderr
    assert "1. start case_flow C-small" in passed.stdout and "C-small: case completed" in passed.stdout
    assert f"PASS {SCENARIOS / 'engine' / 'small_case_auto_completes.yaml'}" in passed.stdout
    failed = _cli(SCENARIOS / "engine" / "small_case_auto_completes.yaml", FAILING)
    assert failed.returncode == 1
    assert f"FAIL {FAILING}: wrong belief about the small-case route: line 14: step 3 (expect)" in failed.stdout
    assert "PASS" in failed.stdout and "Traceback" not in failed.stderr
