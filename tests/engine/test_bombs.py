"""Denial of service through diagram text, forms, timers and scenarios (issue 14): each bomb is stopped with a
clear error, and the tests measure what stopping it cost (CPU time, memory peak), not only that an error came."""
from __future__ import annotations

import json
import time
import tracemalloc

import pytest
import sqlalchemy as sa

from engine.definitions.form_schema import FormValidator, pattern_problems
from engine.definitions.validation import validate_files
from engine.errors import DefinitionInvalid, StateError
from engine.kernel import expressions
from engine.kernel.expressions import ExpressionError
from engine.store.tables import instances
from engine.workspaces.design import json_problem
from tools.scenarios import run_scenario

from testpaths import ENGINE_BPMN

COURT = "J0104"


def spent(fn):
    """(CPU seconds, peak MB traced, the exception) of running ``fn``; CPU measured without tracemalloc."""
    start = time.process_time()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the caller checks which
        error = exc
    else:
        error = None
    cpu = time.process_time() - start
    tracemalloc.start()
    try:
        fn()
    except Exception:  # noqa: BLE001
        pass
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return cpu, peak, error


# -- the expression budget -------------------------------------------------------------------------------------
# on HEAD eea8641: 4.6 s CPU (9.5 s traced) / 100 MB traced (190 MB resident) / 1.6 s / 5.6 s
BOMBS = {
    "sum of lists (quadratic inside a builtin)": "len(sum([[1]*40]*10000, []))",
    "lists made in a comprehension": "[list(range(10000)) for i in range(10000)]",
    "sorting inside a builtin": "sorted(sorted(list(range(10000))) for i in range(10000))",
    "strings made and joined": "len(''.join(str(list(range(10000))) for i in range(1000)))",
    "slices copied": "[xs[:] for i in range(10000)]",
}


@pytest.mark.parametrize("text", BOMBS.values(), ids=BOMBS.keys())
def test_an_expression_bomb_stops_within_its_budget_of_time_and_memory(text):
    cpu, peak, error = spent(lambda: expressions.evaluate(text, {"xs": list(range(10000))}))
    assert isinstance(error, ExpressionError), error
    assert cpu < 4 * expressions.TIME_BUDGET, f"{cpu:.2f} s CPU against a {expressions.TIME_BUDGET} s budget"
    assert peak < 32, f"{peak:.0f} MB traced"


def test_sum_still_joins_lists_and_adds_numbers():
    assert expressions.evaluate("sum([[1], [2, 3]], [])", {}) == [1, 2, 3]
    assert expressions.evaluate("sum(x for x in range(5))", {}) == 10
    assert expressions.evaluate("sum([(1,), (2,)], ())", {}) == (1, 2)


# -- form patterns ---------------------------------------------------------------------------------------------
EXPONENTIAL = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^(a+)+$"}}}


def test_a_catastrophic_pattern_runs_in_linear_time():
    """On HEAD 27 × "a" + "!" took 5.5 s (Python's backtracking re)."""
    validator = FormValidator(EXPONENTIAL)
    start = time.process_time()
    errors = list(validator.iter_errors({"name": "a" * 27 + "!"}))
    assert time.process_time() - start < 0.05
    assert [e.validator for e in errors] == ["pattern"] and "does not match" in errors[0].message
    assert not list(validator.iter_errors({"name": "a" * 27}))
    long = {"name": "a" * 100_000 + "!"}
    start = time.process_time()
    assert list(validator.iter_errors(long))
    assert time.process_time() - start < 0.5


def test_a_pattern_that_needs_backtracking_is_refused_at_deploy(registry):
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": r"^(x)\1$"}},
              "patternProperties": {"^(?=y)": {"type": "string"}}}
    problems = pattern_problems(schema)
    assert len(problems) == 2 and all("linear time" in p for p in problems)
    assert "linear time" in json_problem("f.schema.json", json.dumps(schema))      # the designer's save
    flow = (ENGINE_BPMN / "case_flow.bpmn").read_bytes()
    form = json.loads((ENGINE_BPMN / "register.schema.json").read_text())
    form["properties"]["applicant_name"] = {"type": "string", "pattern": r"^(\w+)\s\1$"}
    found = validate_files({"case_flow.bpmn": flow, "register.schema.json": json.dumps(form).encode()},
                           registry=registry)
    assert [p.file for p in found if "linear time" in p.message] == ["register.schema.json"], found


# -- timers and the engine step --------------------------------------------------------------------------------
def bpmn(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
            'targetNamespace="http://zhixing.example">\n' + body + '\n</bpmn:definitions>\n').encode()


def cycle_flow(cycle: str) -> bytes:
    return bpmn(f'''<bpmn:process id="cycle" isExecutable="true">
<bpmn:startEvent id="s"/>
<bpmn:intermediateCatchEvent id="tick"><bpmn:timerEventDefinition>
<bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
<bpmn:endEvent id="e"/>
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="tick"/>
<bpmn:sequenceFlow id="f2" sourceRef="tick" targetRef="e"/>
</bpmn:process>''')


SPIN = bpmn('''<bpmn:process id="spin" isExecutable="true">
<bpmn:startEvent id="s"/>
<bpmn:scriptTask id="count"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>
<bpmn:exclusiveGateway id="again" default="out"/>
<bpmn:endEvent id="e"/>
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="count"/>
<bpmn:sequenceFlow id="f2" sourceRef="count" targetRef="again"/>
<bpmn:sequenceFlow id="back" sourceRef="again" targetRef="count">
<bpmn:conditionExpression>n &lt; 1000000000</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="out" sourceRef="again" targetRef="e"/>
</bpmn:process>''')


@pytest.mark.parametrize("cycle, words", [('"R100000/PT0S"', "1 to 1000"), ('"R5/PT0S"', "at least 1:00:00"),
                                          ('"R/P1D"', "for ever"), ('"R5/PT59M"', "at least")])
def test_an_unbounded_or_too_fast_timer_cycle_is_refused_at_deploy(engine, cycle, words):
    """On HEAD ``R100000/PT0S`` deployed, and firing it held the engine for more than 90 s."""
    with pytest.raises(DefinitionInvalid) as refused:
        engine.deploy({"cycle.bpmn": cycle_flow(cycle)})
    assert words in str(refused.value) and "tick" in str(refused.value)


def test_a_bounded_timer_cycle_deploys(engine):
    engine.deploy({"cycle.bpmn": cycle_flow('"R3/P1D"')})


def cases(engine) -> int:
    return engine.executor.read(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(instances))
                                .scalar())


def test_a_cycle_computed_at_run_time_is_held_to_the_same_bounds(engine):
    engine.deploy({"cycle.bpmn": cycle_flow("every")})
    start = time.monotonic()
    with pytest.raises(StateError) as failed:
        engine.start("cycle", "（2026）J0104执1号", COURT, {"every": "R100000/PT0S"})
    assert time.monotonic() - start < 2
    assert "could not start" in str(failed.value) and "1 to 1000" in str(failed.value)
    assert cases(engine) == 0


def test_an_engine_step_that_never_waits_is_stopped_and_rolled_back(engine):
    engine.deploy({"spin.bpmn": SPIN})
    start = time.monotonic()
    with pytest.raises(StateError) as failed:
        engine.start("spin", "（2026）J0104执2号", COURT, {"n": 0})
    elapsed = time.monotonic() - start
    assert "without waiting" in str(failed.value) and "Nothing was saved" in str(failed.value)
    assert elapsed < 4, f"{elapsed:.1f} s"         # the budget is 2 s (MAX_ENGINE_SECONDS) or 10,000 steps
    assert cases(engine) == 0
    engine.start("spin", "（2026）J0104执3号", COURT, {"n": 999_999_990})     # a short run still completes


# -- scenarios (YAML) ------------------------------------------------------------------------------------------
def yaml_bomb(levels: int = 8) -> str:
    """499 bytes: step notes of nested aliases, 9⁸ strings (HEAD read it: 7.1 s CPU, 60 MB → 1,045 MB)."""
    lines = ["name: bomb", "start: 2026-03-02T09:00+08:00", "court: 川0104", "deploy: []", "steps:",
             '  - note: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"  - note: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_before_it_grows():
    """On HEAD a 566-byte scenario of nested aliases took the server from 155 MB to 1.5 GB."""
    bomb = yaml_bomb()
    assert len(bomb.encode()) < 600
    cpu, peak, _error = spent(lambda: run_scenario(bomb))
    result = run_scenario(bomb)
    assert not result.ok and "aliases (*name) are not allowed" in result.summary and ":7:" in result.summary
    assert cpu < 0.5 and peak < 5, (cpu, peak)


def test_a_scenario_over_the_size_limit_is_refused_unread():
    result = run_scenario("name: big\n" + "# padding\n" * 30_000)
    assert not result.ok and "larger than 256 KB" in result.summary


def test_a_designers_scenario_run_stops_when_the_server_grows_too_much(engine, monkeypatch):
    """The run is checked at every step against ``SIMULATION_MEMORY`` (here: no growth at all allowed)."""
    import tools.scenarios as scenarios
    files = {"cycle.bpmn": cycle_flow('"R3/P1D"').decode()}
    scenario = "name: tiny\nstart: 2026-03-02T09:00+08:00\ncourt: 川0104\nsteps:\n  - note: one\n  - note: two\n"
    assert scenarios.simulate_draft(files, scenario).ok
    monkeypatch.setattr(scenarios, "SIMULATION_MEMORY", -1)
    run = scenarios.simulate_draft(files, scenario)
    assert not run.ok and "MB of memory" in run.summary
