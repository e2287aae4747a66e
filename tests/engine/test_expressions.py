"""The safe expression language: what it computes, what it refuses, its limits, and SpiffWorkflow driving it."""
from __future__ import annotations

import copy
from datetime import date, datetime

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

import engine.kernel.expressions as ex
from engine.kernel.expressions import ExpressionError, SafeEnvironment, UnsafeExpression, check, evaluate, execute

DATA = {"amount": 150_000, "mediated": True, "name": " Zhang San ", "items": [3, 1, 2],
        "case": {"no": "(2024)京0105执123号", "party": {"name": "A", "role": "debtor"}, "tags": ["x"]},
        "filed": date(2024, 3, 1), "at": datetime(2024, 3, 1, 9, 30), "none": None}


@pytest.mark.parametrize("text, expected", [
    ("amount > 100000 and mediated", True),
    ("amount > 100000 and not mediated", False),
    ("100 < amount <= 150000 < 10**6", True),
    ("1 < 2 > 5", False),
    ("amount // 7 % 5 + 2 ** 10 - 1.5 / 3", 150_000 // 7 % 5 + 1024 - 0.5),
    ("-amount if none is None else 0", -150_000),
    ("none is not None or 'fallback'", "fallback"),
    ("'执' in case['no'] and 'y' not in case['tags']", True),
    ("case['party'].get('name') + case.get('missing', '?')", "A?"),
    ("items[1:] + items[::-1][:1]", [1, 2, 2]),
    ("(1, 'a', None, True, 2.5)", (1, "a", None, True, 2.5)),
    ("{'a': 1, **case['party']}", {"a": 1, "name": "A", "role": "debtor"}),
    ("{1, 2} | {3} - {1}", {1, 2, 3}),
    ("f'{name.strip()}: {amount:,.2f} {items!r} {amount:>9}'", "Zhang San: 150,000.00 [3, 1, 2]    150000"),
    ("[x * 2 for x in items if x > 1]", [6, 4]),
    ("{k: v.upper() for k, v in case['party'].items()}", {"name": "A", "role": "DEBTOR"}),
    ("{x % 2 for x in items}", {0, 1}),
    ("sum(x for x in items) + len(items) + max(items) - min(items) + abs(-1)", 6 + 3 + 3 - 1 + 1),
    ("[(i, a, b) for i, (a, b) in enumerate(zip(items, 'xyz'))][-1]", (2, 2, "z")),
    ("sorted(items, reverse=True) + list(range(2)) + [round(2.567, 2)]", [3, 2, 1, 0, 1, 2.57]),
    ("any(x > 2 for x in items) and all([1, 'a']) and bool(0) is False", True),
    ("int('42') + float('0.5') + len(str(12345)) + len(tuple(set([1, 1])))", 48.5),
    ("dict(a=1)['a'] + sum([[1], [2]], [])[1]", 3),
    ("', '.join(sorted(case['party'].keys())).replace('name', 'N').split(', ')", ["N", "role"]),
    ("name.lower().startswith(' zh') and name.endswith(' ') and '12'.isdigit()", True),
    ("[x for row in [[1, 2], [3]] for x in row if x != 2]", [1, 3]),
    ("filed.year * 10000 + filed.month * 100 + filed.day", 20240301),
    ("filed > date(2024, 1, 1) and filed + timedelta(days=30) == date(2024, 3, 31)", True),
    ("(date(2024, 4, 1) - filed).days", 31),
    ("filed.isoformat() + ' ' + at.isoformat() + ' ' + str(at.hour)", "2024-03-01 2024-03-01T09:30:00 9"),
    ("f'{filed:%Y年%m月%d日}'", "2024年03月01日"),
    ("len([_ for _ in range(3)])", 3),
])
def test_allowed_expressions(text, expected):
    assert check(text) == []
    assert evaluate(text, DATA) == expected


def test_functions_are_callable_but_not_values():
    functions = {"double": lambda x: x * 2}
    assert evaluate("double(amount) + 1", DATA, functions) == 300_001
    with pytest.raises(ExpressionError, match="function 'len' can only be called"):
        evaluate("len", DATA)
    with pytest.raises(ExpressionError, match="function 'print' is not defined"):
        evaluate("print(1)", DATA)
    with pytest.raises(ExpressionError, match="function 'len' can only be called"):
        execute("f = len", {})
    with pytest.raises(ExpressionError, match="function 'name' is not defined"):
        evaluate("name()", DATA)


def test_run_time_errors_are_one_line_expression_errors():
    with pytest.raises(ExpressionError) as err:
        evaluate("amount > missing", DATA)
    assert str(err.value) == "name 'missing' is not defined"
    cases = {"case['nope']": "key 'nope' not found", "1 / 0": "division by zero",
             "name > amount": "TypeError: '>' not supported", "items[9]": "IndexError",
             "items.upper()": "'list' has no allowed attribute 'upper'",      # static check passes; run time refuses
             "name.year": "'str' has no allowed attribute 'year'", "'%s' % name": "use an f-string",
             "f'{amount:%Y}'": "only applies to dates", "int('x')": "ValueError"}
    for text, message in cases.items():
        with pytest.raises(ExpressionError, match=message) as err:
            evaluate(text, DATA)
        assert "\n" not in str(err.value) and "Traceback" not in str(err.value)


def test_scripts_assign_into_names():
    data = {"price": 12.5, "qty": 4, "parties": [{"name": "A", "fee": 10}, {"name": "B", "fee": 0}],
            "obsolete": 1}
    execute("""
total = price * qty
names, payers = [], 0
for p in parties:
    if p['fee'] == 0:
        continue
    elif p['fee'] > 100:
        break
    else:
        payers += 1
    names.append(p['name'])
else:
    done = True
first, (second, third) = 'x', [2, 3]
counts = {}
counts['a'] = 1
counts['a'] += 2
counts.update({'b': 5})
del counts['b']
del obsolete
doubled = [x * 2 for x in range(3)]
for _ in range(2):
    pass
""", data)
    assert data["total"] == 50.0 and data["names"] == ["A"] and data["payers"] == 1 and data["done"] is True
    assert (data["first"], data["second"], data["third"]) == ("x", 2, 3)
    assert data["counts"] == {"a": 3} and "obsolete" not in data and data["doubled"] == [0, 2, 4]
    assert "x" not in data and "p" in data        # comprehension variables stay local; loop variables do not
    execute("hit = 0\nfor i in range(10):\n    if i == 3:\n        break\n    hit = i", data)
    assert data["hit"] == 2


def test_script_errors_name_the_line():
    with pytest.raises(ExpressionError, match=r"^line 3: name 'y' is not defined$"):
        execute("x = 1\nif x:\n    z = y\n", {})
    with pytest.raises(ExpressionError, match="line 1: cannot assign or delete items of a str"):
        execute("s[0] = 'b'", {"s": "abc"})
    assert check("x = 1\nbreak", "exec") == ["line 2: 'break'/'continue' outside a loop"]


ESCAPES = [
    "().__class__.__base__.__subclasses__()",
    "[].__class__",
    "getattr(amount, '__cl' + 'ass__')",
    "'{0.__class__}'.format(amount)",
    "'{x.__class__}'.format_map({'x': amount})",
    "type(amount).mro()",
    "f'{amount.__class__}'",
    "case.__dict__",
    "(lambda: 1)()",
    "__builtins__['eval']('1')",
    "__import__('os').system('id')",
    "eval('1 + 1')",
    "exec('import os')",
    "open('/etc/passwd').read()",
    "globals()['__builtins__']",
    "vars(case)",
    "len.__self__",
    "sum.__call__(items)",
    "[c for c in ().__class__.__mro__]",
    "object.__subclasses__()",
    "case.get.__self__",
    "filed.__reduce__()",
    "items._private",
    "super()",
    "items.mro()",
    "f'{amount!r:{amount}}'",
]
SCRIPT_ESCAPES = [
    "import os",
    "from os import system",
    "def f():\n    return 1",
    "class A:\n    pass",
    "while True:\n    pass",
    "try:\n    x = 1\nexcept Exception:\n    pass",
    "with open('x') as fh:\n    pass",
    "global amount",
    "case.__class__ = dict",
    "f = lambda: 0",
    "x = [y for y in ().__class__.__bases__]",
    "for c in ().__class__.__base__.__subclasses__():\n    pass",
    "items.__setitem__(0, 1)",
    "case.party = 1",
    "del case.party",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_escapes_rejected_statically_and_at_run_time(text):
    assert check(text)
    assert all("\n" not in problem for problem in check(text))
    with pytest.raises((UnsafeExpression, ExpressionError)):
        evaluate(text, DATA)
    with pytest.raises((UnsafeExpression, ExpressionError)):
        execute(f"result = {text}", dict(DATA))


@pytest.mark.parametrize("text", SCRIPT_ESCAPES)
def test_script_escapes_rejected(text):
    assert check(text, "exec")
    data = dict(DATA)
    with pytest.raises(UnsafeExpression):
        execute(text, data)
    assert data == DATA


@pytest.mark.parametrize("text, mode", [(t, "eval") for t in ESCAPES] + [(t, "exec") for t in SCRIPT_ESCAPES])
def test_escapes_fail_even_without_the_static_check(text, mode, monkeypatch):
    """Defence in depth: the compiler and the run-time type checks stop escapes on their own."""
    monkeypatch.setattr(ex._Checker, "visit", lambda self, node: None)
    ex._compile.cache_clear()
    try:
        with pytest.raises((UnsafeExpression, ExpressionError)):
            (evaluate if mode == "eval" else execute)(text, dict(DATA))
    finally:
        ex._compile.cache_clear()


@pytest.mark.parametrize("text", [
    "'a' * 10**9", "[0] * 10**9", "10**9 * [0]", "9**9**9", "2 ** 100000", "range(10**9)",
    "[a for a in range(10000) for b in range(10000)]",
    "sum(1 for a in range(10000) for b in range(10000))",
    "len([[[0] * 1000] * 1000] * 1000)",
    "('a' * 60000) + ('a' * 60000)",
    "'x'.join(['a' * 100000] * 10000)",
    "('a' * 50000).replace('', 'bb')",
    "str([['a' * 1000] * 1000] * 10)",
    "f'{[[\"a\" * 1000] * 1000] * 10}'",
    "10.0 ** 1000",
])
def test_size_and_time_bombs_fail_fast(text):
    with pytest.raises(ExpressionError):
        evaluate(text, DATA)


@pytest.mark.parametrize("script", [
    "s = 'ab'\nfor i in range(100):\n    s = s + s",
    "l = [1]\nfor i in range(100):\n    l.extend(l)",
    "x = [1]\nfor i in range(100):\n    x = [x, x]",
    "x = [1]\nfor i in range(100):\n    x.append(x[-1:] * 2)",
    "n = 3\nfor i in range(100):\n    n = n * n",
    "for i in range(10000):\n    for j in range(10000):\n        pass",
    "r = enumerate(items)",
    "s = {1, 2}",
])
def test_script_bombs_fail_fast(script):
    with pytest.raises(ExpressionError):
        execute(script, dict(DATA))


def test_limits_are_module_constants(monkeypatch):
    assert evaluate("sum(1 for i in range(5000))", {}) == 5000
    monkeypatch.setattr(ex, "MAX_STEPS", 1000)
    with pytest.raises(ExpressionError, match="budget exceeded"):
        evaluate("sum(1 for i in range(5000))", {})
    monkeypatch.setattr(ex, "MAX_RANGE", 10)
    with pytest.raises(ExpressionError, match="range"):
        evaluate("range(11)", {})


def test_scripts_do_not_mutate_shallow_copied_data():
    """SpiffWorkflow hands each task a shallow copy; mutating nested values must not reach the original."""
    stored = {"case": {"party": {"name": "A"}, "parties": [{"name": "P"}]}, "items": [1], "other": {"k": 1}}
    original = copy.deepcopy(stored)
    scripts = ["case['party']['name'] = 'X'", "items.append(2)", "p = case['party']\np['name'] = 'X'",
               "for p in case['parties']:\n    p['name'] = 'X'", "alias = [case]\nalias[0]['party']['name'] = 'X'",
               "case.get('parties').append(1)", "items[0] += 1", "del case['party']['name']",
               "box = []\nbox.append(case['party'])\nbox[0]['name'] = 'X'", "case.setdefault('party', {})['n'] = 1"]
    for script in scripts:
        task = dict(stored)
        execute(script, task)
        assert stored == original, script
        assert task != original, script
        assert task["other"] is stored["other"]      # untouched names are not copied
    task = dict(stored)
    assert evaluate("items.pop() + len(case.pop('party'))", task) == 2
    assert task == stored == original


def test_check_reports_problems_without_running():
    assert check("total = price * qty", "exec") == []
    assert check("amount >") == ["syntax error on line 1: invalid syntax"]
    assert check("import os\nx = __name__", "exec") == ["line 1: import is not allowed",
                                                         "line 2: name '__name__' is not allowed"]
    assert check("x = 1") != []                          # a statement is not an expression
    with pytest.raises(UnsafeExpression, match="attribute '__class__' is not allowed"):
        evaluate("x.__class__", {"x": 1})
    with pytest.raises(ValueError):
        check("1", mode="single")


def test_environment_external_context_and_functions():
    env = SafeEnvironment(functions={"double": lambda x: x * 2})
    context = {"n": 2}
    assert env.evaluate("double(n) + triple(k)", context, {"triple": lambda x: 3 * x, "k": 1}) == 7
    assert env.execute("m = double(n) + k", context, {"k": 5}) is True
    assert context == {"n": 2, "m": 9}                 # no functions or external names leak into task data
    with pytest.raises(ExpressionError):
        env.evaluate("k", context)


BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://zhixing/test">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="compute" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>SCRIPT</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="big" default="small_flow">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>big_flow</bpmn:outgoing><bpmn:outgoing>small_flow</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_big"><bpmn:incoming>big_flow</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>small_flow</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="big"/>
    <bpmn:sequenceFlow id="big_flow" sourceRef="big" targetRef="end_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">total &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="small_flow" sourceRef="big" targetRef="end_small"/>
  </bpmn:process>
</bpmn:definitions>"""


def _run_workflow(script: str, data: dict) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.replace("SCRIPT", script).encode())
    workflow = BpmnWorkflow(parser.get_spec("order"), script_engine=PythonScriptEngine(environment=SafeEnvironment()))
    workflow.get_tasks(spec_name="start")[0].data.update(data)
    workflow.do_engine_steps()
    return workflow


@pytest.mark.parametrize("price, qty, end", [(30, 4, "end_big"), (30, 3, "end_small")])
def test_spiffworkflow_runs_scripts_and_conditions_safely(price, qty, end):
    workflow = _run_workflow("total = price * qty", {"price": price, "qty": qty})
    assert workflow.is_completed()
    finished = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)}
    assert end in finished and ({"end_big", "end_small"} - {end}).isdisjoint(finished)
    assert workflow.get_tasks(spec_name=end)[0].data["total"] == price * qty


def test_spiffworkflow_escape_in_script_task_fails_the_run():
    with pytest.raises(WorkflowTaskException, match="not allowed") as err:
        _run_workflow("x = ().__class__.__base__.__subclasses__()", {"price": 1, "qty": 1})
    task = err.value.task
    assert task.task_spec.bpmn_id == "compute" and "x" not in task.data
