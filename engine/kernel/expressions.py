"""The safe expression language for every text a diagram carries (conditions, scripts, parameters, timers).

SpiffWorkflow's default runs diagram text with ``eval``/``exec``, and restricted builtins do not help:
``().__class__.__base__.__subclasses__()`` reaches ``subprocess.Popen``. Here the text is parsed with ``ast``,
checked against an allow-list, and compiled into a tree of small Python closures (cached per text), so no
``eval``/``exec``/``compile`` of diagram text happens anywhere. The language is a subset of Python:

Expressions: literals (str, int, float, bool, None, list, tuple, dict, set), names, arithmetic (``+ - * / //
% **``, ``& | ^ ~`` for sets and ints), comparisons (chained), ``and/or/not``, ``in``, ``is``, ``a if c else b``,
subscripts and slices, f-strings (conversions ``!r !s !a``; format specs only like ``>10``, ``,.2f``, ``08d``,
or strftime patterns such as ``%Y年%m月%d日`` for dates), list/set/dict comprehensions and generator
expressions. Calls go only to the allow-listed builtins (``len abs min max sum round int float str bool list
dict set tuple sorted any all range enumerate zip date timedelta``; no ``isinstance``, since types are not
values) and to the functions the engine passes in; functions are not values (``f = len`` fails). Methods: only
those in ``_METHODS`` for str/list/dict/set/tuple and dates; attributes: ``year month day`` (and time parts) of
dates, ``days seconds`` of timedeltas. Run-time failures raise ``ExpressionError`` with a one-line message.

Scripts (mode "exec") add: assignment to names, subscripts and tuples; augmented assignment (``x += y`` means
``x = x + y``, it never mutates in place); ``if/elif/else``; ``for``/``else`` with ``break``/``continue``;
``pass``; ``del name`` or ``del d[key]``; expression statements such as ``items.append(x)``. Top-level
assignments land in the task data, and what a script stores there must be data (no sets, ranges, iterators).

Forbidden: import, def, lambda, class, while, try, with, global/nonlocal, yield, await, walrus, ``*``/``**``
unpacking in calls; any name or attribute starting with ``_`` (a lone ``_`` is allowed as a name);
``format format_map mro``; names such as getattr, eval, exec, open, type, object, vars (``_FORBIDDEN_NAMES``).
Rejected statically by ``check`` and again whenever ``evaluate``/``execute`` compiles the text; the run-time
attribute/method checks look at the real type of the object as well.

Limits (module constants, read at call time): ``TIME_BUDGET`` s of CPU and ``MAX_STEPS`` steps per call, where a
step is a loop iteration or an item a builtin or method reads (``sorted(xs)`` costs ``len(xs)``: work inside
builtins counts), ``range`` up to ``MAX_RANGE`` items, integers up to ``MAX_INT_BITS`` bits, strings up to
``MAX_STRING`` characters, lists/dicts up to ``MAX_ITEMS`` items, nested values up to ``MAX_SIZE``
items+characters, and all the values one call makes (every list, string, slice, even those dropped at once) up to
``MAX_MADE`` items+characters, which bounds the memory a text can take.
Shared data: SpiffWorkflow copies task data shallowly, so ``execute`` deep-copies first the names a script can
mutate (found once per text from the AST, following aliases such as ``p = case['party']``).
"""
from __future__ import annotations

import ast
import copy
import functools
import operator
import re
import textwrap
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

TIME_BUDGET = 0.1          # CPU seconds per call
MAX_STEPS = 1_000_000      # loop/comprehension iterations (and nodes walked by size checks) per call
MAX_RANGE = 10_000
MAX_ITEMS = 10_000
MAX_STRING = 100_000
MAX_INT_BITS = 10_000
MAX_SIZE = 1_000_000       # items + characters of a nested value, shared parts counted every time
MAX_SOURCE = 20_000
MAX_MADE = 500_000         # items + characters of all the values one call makes (lists, strings, slices...)
_SIZED = frozenset({str, list, tuple, dict, set, frozenset, range})


class UnsafeExpression(ValueError):
    """The text is rejected statically (syntax or a forbidden construct); ``problems`` lists each one."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class ExpressionError(Exception):
    """The text failed at run time: unknown name, type error, a limit exceeded."""
    line: int | None = None   # script line, once known


_FORBIDDEN_NAMES = frozenset("""getattr setattr delattr hasattr eval exec compile open globals locals vars type
    object super breakpoint input help dir id memoryview bytearray classmethod staticmethod property exit quit
    format format_map mro""".split())
_FORBIDDEN_NODES = {ast.Import: "import", ast.ImportFrom: "import", ast.FunctionDef: "def",
                    ast.AsyncFunctionDef: "def", ast.Lambda: "lambda", ast.ClassDef: "class", ast.While: "while",
                    ast.Try: "try", ast.With: "with", ast.Global: "global", ast.Nonlocal: "nonlocal",
                    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Await: "await", ast.NamedExpr: "':='",
                    ast.Starred: "'*' unpacking", ast.Return: "return", ast.Raise: "raise", ast.Assert: "assert"}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
        ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert}
_CMP = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
        ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
_ALLOWED = {ast.Expression, ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Break,
            ast.Continue, ast.Pass, ast.Delete, ast.Constant, ast.Name, ast.Load, ast.Store, ast.Del, ast.BinOp,
            ast.UnaryOp, ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.List,
            ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr, ast.FormattedValue, ast.ListComp, ast.SetComp,
            ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.Call, ast.keyword, ast.Attribute,
            *_OPS, *_UNARY, *_CMP}
_STR = {"upper", "lower", "strip", "lstrip", "rstrip", "split", "join", "startswith", "endswith", "replace",
        "count", "index", "find", "isdigit", "title"}
_METHODS: dict[type, frozenset[str]] = {k: frozenset(v) for k, v in {
    str: _STR, list: {"append", "extend", "insert", "pop", "remove", "index", "count", "copy", "sort", "reverse"},
    dict: {"get", "keys", "values", "items", "pop", "update", "copy", "setdefault"}, tuple: {"index", "count"},
    set: {"add", "discard", "remove", "union", "intersection", "difference", "issubset", "copy"},
    datetime: {"isoformat", "weekday", "date"}, date: {"isoformat", "weekday"},
    timedelta: {"total_seconds"}}.items()}
_ATTRS: dict[type, frozenset[str]] = {datetime: frozenset({"year", "month", "day", "hour", "minute", "second"}),
                                      date: frozenset({"year", "month", "day"}),
                                      timedelta: frozenset({"days", "seconds"})}


class FactReader:
    """Base of the read-only objects the engine hands diagrams (``case``, engine/kernel/casefile.py): only the
    methods named in ``FACT_METHODS`` may be called, and they must be pure."""


FACT_METHODS = frozenset({
    "records", "header", "searches", "last_search", "searched_within", "clues", "unverified_clues", "assets",
    "undisposable", "disposable_assets", "measures", "documents", "issued", "served", "received", "paid_out",
    "balance", "sanction_in_force", "filed_more_than", "debtor_missing", "missing_debtor_searched",
    "zhongben_check"})
_METHODS[FactReader] = FACT_METHODS
_ALL_METHODS = frozenset().union(*_METHODS.values())
_ALL_ATTRS = frozenset().union(*_ATTRS.values())
_MUTATING = frozenset({"append", "extend", "insert", "pop", "remove", "sort", "reverse", "update", "setdefault",
                       "add", "discard"})
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
_STORABLE = frozenset({str, int, float, bool, type(None), list, tuple, dict, date, datetime, timedelta, UUID})
_SAFE_SPEC = re.compile(r"(.?[<>=^])?[+\- ]?#?0?(\d{1,3})?[,_]?(\.\d{1,2})?[bcdeEfFgGnosxX%]?")
_DATE_SPEC = re.compile(r"[^{}]{1,64}")
_BREAK, _CONTINUE = object(), object()


def _limit(v: Any) -> Any:
    """Fail fast when a result outgrows the size caps."""
    t = type(v)
    if t is str and len(v) > MAX_STRING:
        raise ExpressionError(f"string longer than {MAX_STRING} characters")
    if t is int and v.bit_length() > MAX_INT_BITS:
        raise ExpressionError(f"integer larger than {MAX_INT_BITS} bits")
    if t in _CONTAINERS and len(v) > MAX_ITEMS:
        raise ExpressionError(f"collection longer than {MAX_ITEMS} items")
    return v


def _measure(v: Any, f: _Frame | None = None, strict: bool = False) -> Any:
    """Walk a nested value, counting shared parts every time, so a DAG like ``x = [x, x]`` cannot hide."""
    size, pops, stack = 0, 0, [v]
    while stack:
        item = stack.pop()
        t, pops = type(item), pops + 1
        if strict and t not in _STORABLE:
            raise ExpressionError(f"a {t.__name__} value cannot be stored in task data (use a list)")
        if t is str:
            size += len(item)
        elif t in _CONTAINERS:
            size += len(item)
            stack.extend(item)
            if t is dict:
                stack.extend(item.values())
        else:
            size += 1
        if size > MAX_SIZE:
            raise ExpressionError(f"value larger than {MAX_SIZE} items and characters")
        if f is not None and pops == 4096:        # the walk is work too: within the budget as it goes
            f.budget.tick(pops)
            pops = 0
    if f is not None:
        f.budget.tick(pops)
    return v


def _store_check(v: Any, f: _Frame) -> Any:
    """Measure containers that hold containers; flat ones cannot grow by sharing."""
    if type(v) in _CONTAINERS and not _CONTAINERS.isdisjoint(map(type, v.values() if type(v) is dict else v)):
        _measure(v, f)
    return _limit(v)


def _mul(a: Any, b: Any) -> Any:
    if isinstance(b, (str, list, tuple)):
        a, b = b, a
    if isinstance(a, (str, list, tuple)) and isinstance(b, int):
        if len(a) * b > (MAX_STRING if isinstance(a, str) else MAX_ITEMS):
            raise ExpressionError("repeated sequence too long")
    return a * b


def _pow(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 and b * a.bit_length() > MAX_INT_BITS:
        raise ExpressionError(f"power too large (limit {MAX_INT_BITS} bits)")
    return a ** b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str):
        raise ExpressionError("'%' string formatting is not supported; use an f-string")
    return a % b


_GUARDED = {operator.mul: _mul, operator.pow: _pow, operator.mod: _mod}


def _sum(iterable, start=0):
    """``sum``, in linear time: lists and tuples are joined by extending one result (Python's own ``sum`` copies
    the growing list at every item, quadratic: ``sum([[1]*40]*10000, [])`` took 4.6 s), checked as it grows."""
    if type(start) not in (list, tuple):
        return sum(iterable, start)
    out = list(start)
    for item in iterable:
        if type(item) is not type(start):
            raise ExpressionError(f"sum() cannot add {type(item).__name__} to {type(start).__name__}")
        out.extend(item)
        _limit(out)
    return out if type(start) is list else tuple(out)


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise ExpressionError(f"range() is limited to {MAX_RANGE} items")
    return r


_BUILTINS: dict[str, Callable] = {
    "len": len, "abs": abs, "min": min, "max": max, "sum": _sum, "round": round, "int": int, "float": float,
    "str": lambda *a: str(*(_measure(x) for x in a)), "bool": bool, "list": list, "dict": dict, "set": set,
    "tuple": tuple, "sorted": sorted, "any": any, "all": all, "range": _range, "enumerate": enumerate,
    "zip": zip, "date": date, "timedelta": timedelta}


def _allowed(table: dict[type, frozenset[str]], obj: Any, name: str) -> None:
    """Run-time twin of the static attribute check: the real type of ``obj`` must offer ``name``."""
    names = table.get(type(obj))
    if names is None:
        names = next((n for t, n in table.items() if isinstance(obj, t)), frozenset())
    if name not in names or name.startswith("_"):
        raise ExpressionError(f"'{type(obj).__name__}' has no allowed attribute '{name}'")


def _call_method(obj: Any, name: str, args: list, kwargs: dict, f: _Frame) -> Any:
    _allowed(_METHODS, obj, name)
    f.budget.read((obj, *args, *kwargs.values()))
    if name == "join" and args:
        args[0] = list(args[0])
        if len(obj) * len(args[0]) + sum(len(s) for s in args[0] if type(s) is str) > MAX_STRING:
            raise ExpressionError(f"string longer than {MAX_STRING} characters")
    elif name == "replace" and isinstance(obj, str) and len(args) >= 2 and type(args[0]) is str:
        count = obj.count(args[0]) if args[0] else len(obj) + 1
        if len(obj) + count * max(len(str(args[1])) - len(args[0]), 0) > MAX_STRING:
            raise ExpressionError(f"string longer than {MAX_STRING} characters")
    result = getattr(obj, name)(*args, **kwargs)
    if name in _MUTATING:
        _limit(obj)
        for a in (*args, *kwargs.values()):
            _store_check(a, f)
    return f.budget.grow(_limit(result)) if result is not obj else result


class _Budget:
    __slots__ = ("steps", "next_check", "deadline", "made")

    def __init__(self) -> None:
        self.steps, self.next_check, self.deadline, self.made = 0, 1, 0.0, 0

    def grow(self, v: Any) -> Any:
        """Count a value just made (its items or characters) against ``MAX_MADE``, and as work done."""
        if type(v) in _SIZED:
            n = len(v)
            self.made += n
            if self.made > MAX_MADE:
                raise ExpressionError(f"the text made more than {MAX_MADE} items and characters")
            if n:
                self.tick(n)
        return v

    def read(self, values) -> None:
        """Count the items a builtin or method will read as work, before it runs."""
        n = sum(len(v) for v in values if type(v) in _SIZED)
        if n:
            self.tick(n)

    def tick(self, n: int = 1) -> None:
        self.steps += n
        if self.steps >= self.next_check:
            now = time.process_time()
            if self.next_check == 1:
                self.deadline = now + TIME_BUDGET
            elif self.steps > MAX_STEPS or now > self.deadline:
                raise ExpressionError(f"budget exceeded ({MAX_STEPS} steps or {TIME_BUDGET} s CPU)")
            self.next_check = self.steps + 256


class _Frame:
    """Per-call state: task data, extra read-only names, callable functions, budget, comprehension locals."""
    __slots__ = ("names", "extra", "functions", "budget", "locals")

    def __init__(self, names, extra, functions, budget, local=None):
        self.names, self.extra, self.functions, self.budget = names, extra, functions, budget
        self.locals = local if local is not None else {}

    def child(self) -> _Frame:
        return _Frame(self.names, self.extra, self.functions, self.budget, dict(self.locals))

    def missing(self, name: str) -> Any:
        if self.extra and name in self.extra:
            return self.extra[name]
        if name in self.functions or name in _BUILTINS:
            raise ExpressionError(f"function '{name}' can only be called")
        raise ExpressionError(f"name '{name}' is not defined")


class _Checker(ast.NodeVisitor):
    """Static allow-list walk; collects every problem rather than stopping at the first."""

    def __init__(self, script: bool):
        self.problems: list[str] = []
        self.script, self.loops = script, 0

    def bad(self, node: ast.AST, msg: str) -> None:
        line = getattr(node, "lineno", None)
        self.problems.append(f"line {line}: {msg}" if self.script and line else msg)

    def generic_visit(self, node: ast.AST) -> None:
        if type(node) in _FORBIDDEN_NODES:
            return self.bad(node, f"{_FORBIDDEN_NODES[type(node)]} is not allowed")
        if type(node) not in _ALLOWED:
            return self.bad(node, f"{type(node).__name__} is not allowed")
        super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in _FORBIDDEN_NAMES or (node.id.startswith("_") and node.id != "_"):
            self.bad(node, f"name '{node.id}' is not allowed")

    def visit_Attribute(self, node: ast.Attribute, allowed: frozenset[str] = _ALL_ATTRS) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.bad(node, "assigning or deleting attributes is not allowed")
        elif node.attr not in allowed:
            self.bad(node, f"attribute '{node.attr}' is not allowed")
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            self.visit_Attribute(node.func, _ALL_METHODS)
        elif isinstance(node.func, ast.Name):
            self.visit(node.func)
        else:
            self.bad(node, "only named functions and allowed methods can be called")
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            if kw.arg is None or kw.arg.startswith("_"):
                self.bad(node, "'**' unpacking and '_' keywords are not allowed")
            self.visit(kw.value)

    def visit_Constant(self, node: ast.Constant) -> None:
        if type(node.value) not in (str, int, float, bool, type(None)):
            self.bad(node, f"{type(node.value).__name__} literals are not allowed")

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        self.visit(node.value)
        if node.format_spec is None:
            return
        spec_parts = getattr(node.format_spec, "values", [])      # a JoinedStr
        if not all(isinstance(p, ast.Constant) for p in spec_parts):
            return self.bad(node, "computed format specs are not allowed")
        spec = "".join(p.value for p in spec_parts)
        if not (_SAFE_SPEC.fullmatch(spec) or (_DATE_SPEC.fullmatch(spec) and "%" in spec)):
            self.bad(node, f"format spec '{spec}' is not allowed")

    def _target(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self._target(elt)
        elif isinstance(node, ast.Name):
            self.visit(node)
        else:
            self.bad(node, "loop variables must be names")

    def visit_For(self, node: ast.For) -> None:
        self._target(node.target)
        self.visit(node.iter)
        self.loops += 1
        for stmt in node.body:
            self.visit(stmt)
        self.loops -= 1
        for stmt in node.orelse:
            self.visit(stmt)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        if node.is_async:
            self.bad(node.iter, "async comprehensions are not allowed")
        self._target(node.target)
        for child in (node.iter, *node.ifs):
            self.visit(child)

    def visit_Break(self, node: ast.AST) -> None:
        if not self.loops:
            self.bad(node, "'break'/'continue' outside a loop")

    visit_Continue = visit_Break

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if not isinstance(target, (ast.Name, ast.Subscript)):
                self.bad(target, "only 'del name' and 'del x[key]' are allowed")
            self.visit(target)


Run = Callable[[_Frame], Any]
Store = Callable[[_Frame, Any], None]
_NO_LOCALS: frozenset[str] = frozenset()


def _target_names(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def _container(obj: Any) -> Any:
    if not isinstance(obj, (list, dict)):
        raise ExpressionError(f"cannot assign or delete items of a {type(obj).__name__}")
    return obj


class _Compiler:
    """Turns a checked AST into nested closures; ``scope`` holds the comprehension variables in view."""

    def expr(self, node: ast.AST, scope: frozenset[str] = _NO_LOCALS) -> Run:
        method = getattr(self, "e_" + type(node).__name__, None)
        if method is None:
            raise UnsafeExpression([f"{type(node).__name__} is not allowed"])
        return method(node, scope)

    def e_Expression(self, node, scope):
        return self.expr(node.body, scope)

    def e_Constant(self, node, scope):
        value = node.value
        return lambda f: value

    def e_Name(self, node, scope):
        name = node.id
        if name in _FORBIDDEN_NAMES or (name.startswith("_") and name != "_"):
            raise UnsafeExpression([f"name '{name}' is not allowed"])
        if name in scope:
            return lambda f: f.locals[name]

        def load(f):
            try:
                return f.names[name]
            except KeyError:
                return f.missing(name)
        return load

    def e_BinOp(self, node, scope):
        op = _OPS[type(node.op)]
        fn, left, right = _GUARDED.get(op, op), self.expr(node.left, scope), self.expr(node.right, scope)
        if op is operator.mul:
            return lambda f: f.budget.grow(_store_check(fn(left(f), right(f)), f))
        return lambda f: f.budget.grow(_limit(fn(left(f), right(f))))

    def e_UnaryOp(self, node, scope):
        fn, operand = _UNARY[type(node.op)], self.expr(node.operand, scope)
        return lambda f: fn(operand(f))

    def e_BoolOp(self, node, scope):
        parts, is_and = [self.expr(v, scope) for v in node.values], isinstance(node.op, ast.And)

        def run(f):
            for part in parts:
                value = part(f)
                if bool(value) is not is_and:
                    return value
            return value
        return run

    def e_Compare(self, node, scope):
        left, ops = self.expr(node.left, scope), [_CMP[type(o)] for o in node.ops]
        rights = [self.expr(c, scope) for c in node.comparators]
        if len(ops) == 1:
            op, right = ops[0], rights[0]
            return lambda f: op(left(f), right(f))

        def chain(f):
            a = left(f)
            for op, right in zip(ops, rights):
                b = right(f)
                if not op(a, b):
                    return False
                a = b
            return True
        return chain

    def e_IfExp(self, node, scope):
        test, body, orelse = (self.expr(n, scope) for n in (node.test, node.body, node.orelse))
        return lambda f: body(f) if test(f) else orelse(f)

    def e_Subscript(self, node, scope):
        value, key = self.expr(node.value, scope), self.expr(node.slice, scope)
        if isinstance(node.slice, ast.Slice):               # a slice is a copy
            return lambda f: f.budget.grow(value(f)[key(f)])
        return lambda f: value(f)[key(f)]

    def e_Slice(self, node, scope):
        parts = [self.expr(p, scope) if p else (lambda f: None) for p in (node.lower, node.upper, node.step)]
        return lambda f: slice(*[p(f) for p in parts])

    def e_List(self, node, scope, build: Callable = list):
        elts = [self.expr(e, scope) for e in node.elts]
        return lambda f: f.budget.grow(build([e(f) for e in elts]))

    def e_Tuple(self, node, scope):
        return self.e_List(node, scope, tuple)

    def e_Set(self, node, scope):
        return self.e_List(node, scope, set)

    def e_Dict(self, node, scope):
        pairs = [(self.expr(k, scope) if k else None, self.expr(v, scope)) for k, v in zip(node.keys, node.values)]

        def run(f):
            out = {}
            for key, value in pairs:
                if key is None:
                    out.update(value(f))
                else:
                    out[key(f)] = value(f)
            return f.budget.grow(_limit(out))
        return run

    def e_JoinedStr(self, node, scope):
        parts = [self.expr(v, scope) for v in node.values]
        return lambda f: f.budget.grow(_limit("".join([p(f) for p in parts])))

    def e_FormattedValue(self, node, scope):
        value, conv = self.expr(node.value, scope), {115: str, 114: repr, 97: ascii}.get(node.conversion)
        parts = node.format_spec.values if node.format_spec else []
        if not all(isinstance(p, ast.Constant) for p in parts):
            raise UnsafeExpression(["computed format specs are not allowed"])
        spec = "".join(p.value for p in parts)
        dates_only = bool(spec) and not _SAFE_SPEC.fullmatch(spec)

        def run(f):
            v = value(f)
            if type(v) not in (str, int, float, bool):
                _measure(v, f)
            if conv:
                v = conv(v)
            if dates_only and not isinstance(v, date):
                raise ExpressionError(f"format spec '{spec}' only applies to dates")
            return f.budget.grow(format(v, spec))
        return run

    def e_ListComp(self, node, scope):
        frames, inner = self._generators(node.generators, scope)
        if isinstance(node, ast.DictComp):
            key, value = self.expr(node.key, inner), self.expr(node.value, inner)
            item = lambda cf: (key(cf), value(cf))  # noqa: E731
        else:
            item = self.expr(node.elt, inner)
        if isinstance(node, ast.GeneratorExp):
            return lambda f: (item(cf) for cf in frames(f))
        build = {ast.ListComp: list, ast.SetComp: set, ast.DictComp: dict}[type(node)]

        def run(f):
            out = []
            for cf in frames(f):
                out.append(item(cf))
                if len(out) > MAX_ITEMS:
                    _limit(out)
            return f.budget.grow(_store_check(build(out), f))
        return run

    e_SetComp = e_DictComp = e_GeneratorExp = e_ListComp

    def _generators(self, generators: list[ast.comprehension], scope: frozenset[str]):
        """Compile ``for ... in ... if ...`` clauses into a generator of child frames, one per binding."""
        steps = []
        for gen in generators:
            iterable = self.expr(gen.iter, scope)
            scope = scope | _target_names(gen.target)
            steps.append((iterable, self.target(gen.target, scope), [self.expr(c, scope) for c in gen.ifs]))

        def frames(f):
            cf = f.child()

            def level(i):
                iterable, store, conditions = steps[i]
                for item in iterable(cf):
                    cf.budget.tick()
                    store(cf, item)
                    if all(c(cf) for c in conditions):
                        if i + 1 == len(steps):
                            yield cf
                        else:
                            yield from level(i + 1)
            return level(0)
        return frames, scope

    def e_Call(self, node, scope):
        args = [self.expr(a, scope) for a in node.args]
        kwargs = [(k.arg, self.expr(k.value, scope)) for k in node.keywords]
        if isinstance(node.func, ast.Attribute):
            receiver, name = self.expr(node.func.value, scope), node.func.attr
            return lambda f: _call_method(receiver(f), name, [a(f) for a in args], {k: v(f) for k, v in kwargs}, f)
        if not isinstance(node.func, ast.Name):
            raise UnsafeExpression(["only named functions and allowed methods can be called"])
        name = node.func.id

        def call(f):
            fn = f.functions.get(name) or _BUILTINS.get(name)
            if fn is None:
                raise ExpressionError(f"function '{name}' is not defined")
            values, named = [a(f) for a in args], {k: v(f) for k, v in kwargs}
            f.budget.read((*values, *named.values()))
            return f.budget.grow(_limit(fn(*values, **named)))
        return call

    def e_Attribute(self, node, scope):
        value, name = self.expr(node.value, scope), node.attr

        def run(f):
            obj = value(f)
            _allowed(_ATTRS, obj, name)
            return getattr(obj, name)
        return run

    def target(self, node: ast.AST, scope: frozenset[str] | None = None) -> Store:
        """A store function; with ``scope`` the names are comprehension variables, else task data."""
        if isinstance(node, ast.Name):
            name = node.id
            if scope is not None:
                return lambda f, v: f.locals.__setitem__(name, v)
            return lambda f, v: f.names.__setitem__(name, v)
        if isinstance(node, (ast.Tuple, ast.List)):
            subs = [self.target(e, scope) for e in node.elts]

            def unpack(f, value):
                values = list(value)
                if len(values) != len(subs):
                    raise ExpressionError(f"cannot unpack {len(values)} values into {len(subs)} targets")
                for sub, v in zip(subs, values):
                    sub(f, v)
            return unpack
        if isinstance(node, ast.Subscript) and scope is None:
            obj, key = self.expr(node.value), self.expr(node.slice)

            def item(f, v):
                container = _container(obj(f))
                container[key(f)] = v
                _limit(container)
            return item
        raise UnsafeExpression([f"cannot assign to {type(node).__name__}"])

    def block(self, stmts: list[ast.stmt]) -> Run:
        parts = [self.stmt(s) for s in stmts]
        if len(parts) == 1:
            return parts[0]

        def run(f):
            for part in parts:
                signal = part(f)
                if signal is not None:
                    return signal
        return run

    def stmt(self, node: ast.stmt) -> Run:
        """Compile one statement and prefix its line number to whatever error it raises."""
        method = getattr(self, "s_" + type(node).__name__, None)
        if method is None:
            raise UnsafeExpression([f"line {node.lineno}: {type(node).__name__} is not allowed"])
        fn, line = method(node), node.lineno

        def run(f):
            try:
                return fn(f)
            except ExpressionError as e:
                if e.line is None:
                    e.line, e.args = line, (f"line {line}: {e}",)
                raise
            except Exception as e:
                err = ExpressionError(f"line {line}: {_describe(e)}")
                err.line = line
                raise err from None
        return run

    def s_Expr(self, node):
        value = self.expr(node.value)

        def run(f):
            value(f)
        return run

    def s_Assign(self, node):
        value, targets = self.expr(node.value), [self.target(t) for t in node.targets]

        def run(f):
            v = _store_check(value(f), f)
            for target in targets:
                target(f, v)
        return run

    def s_AugAssign(self, node):
        op = _OPS[type(node.op)]
        fn, value, t = _GUARDED.get(op, op), self.expr(node.value), node.target
        if not isinstance(t, (ast.Name, ast.Subscript)):
            raise UnsafeExpression([f"cannot assign to {type(t).__name__}"])
        if isinstance(t, ast.Name):
            load, store = self.e_Name(t, _NO_LOCALS), self.target(t)
            return lambda f: store(f, _store_check(fn(load(f), value(f)), f))
        obj, key = self.expr(t.value), self.expr(t.slice)

        def run(f):
            container, k = _container(obj(f)), key(f)
            container[k] = _store_check(fn(container[k], value(f)), f)
        return run

    def s_If(self, node):
        test, body = self.expr(node.test), self.block(node.body)
        orelse = self.block(node.orelse) if node.orelse else (lambda f: None)
        return lambda f: body(f) if test(f) else orelse(f)

    def s_For(self, node):
        iterable, store, body = self.expr(node.iter), self.target(node.target), self.block(node.body)
        orelse = self.block(node.orelse) if node.orelse else None

        def run(f):
            for item in iterable(f):
                f.budget.tick()
                store(f, item)
                if body(f) is _BREAK:
                    return None
            return orelse(f) if orelse else None
        return run

    def s_Break(self, node):
        return lambda f: _BREAK

    def s_Continue(self, node):
        return lambda f: _CONTINUE

    def s_Pass(self, node):
        return lambda f: None

    def s_Delete(self, node):
        if not all(isinstance(t, (ast.Name, ast.Subscript)) for t in node.targets):
            raise UnsafeExpression(["only 'del name' and 'del x[key]' are allowed"])
        steps = [(t.id, None) if isinstance(t, ast.Name) else (self.expr(t.value), self.expr(t.slice))
                 for t in node.targets]

        def run(f):
            for obj, key in steps:
                if key is not None:
                    del _container(obj(f))[key(f)]
                elif obj in f.names:
                    del f.names[obj]
                else:
                    raise ExpressionError(f"name '{obj}' is not defined")
        return run


def _analyse(tree: ast.AST) -> tuple[frozenset[str], frozenset[str]]:
    """Names whose values the text may mutate in place (to deep-copy first) and names it may store into.

    Seeds are the names in a mutated receiver (``x[k] = v``, ``x[k] += v``, ``del x[k]``, ``x.append(v)``).
    Aliases spread it: after ``p = case['party']``, ``for p in parties`` or ``lst.append(case)``, mutating
    ``p``/``lst`` can reach ``case``, so an edge ``p -> case`` makes ``case`` mutated too.
    """
    edges: dict[str, set[str]] = {}
    seeds: set[str] = set()
    assigned: set[str] = set()

    def store(target: ast.AST, value_names: frozenset[str], local: bool = False) -> None:
        for t in ast.walk(target):
            if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store):
                edges.setdefault(t.id, set()).update(value_names)
                if not local:
                    assigned.add(t.id)
            elif isinstance(t, ast.Subscript):
                receivers = _target_names(t.value)
                seeds.update(receivers)
                for name in receivers:
                    edges.setdefault(name, set()).update(value_names)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                store(target, _target_names(node.value))
        elif isinstance(node, ast.AugAssign):
            store(node.target, _target_names(node.value) | _target_names(node.target))
        elif isinstance(node, (ast.For, ast.comprehension)):
            store(node.target, _target_names(node.iter), local=isinstance(node, ast.comprehension))
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                store(target, frozenset())
                if isinstance(target, ast.Name):
                    assigned.add(target.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATING:
            receivers = _target_names(node.func.value)
            seeds.update(receivers)
            stored = frozenset().union(*map(_target_names, (*node.args, *(k.value for k in node.keywords))))
            for name in receivers:
                edges.setdefault(name, set()).update(stored)
    mutated, todo = set(), list(seeds)
    while todo:
        name = todo.pop()
        if name not in mutated:
            mutated.add(name)
            todo.extend(edges.get(name, ()))
    return frozenset(mutated), frozenset(assigned | mutated)


class _Program(NamedTuple):
    run: Run
    mutated: frozenset[str]     # names to deep-copy before running
    stored: frozenset[str]      # names whose final values must be storable task data


def _program(text: str, mode: str) -> _Program:
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(text, str):
        raise UnsafeExpression([f"expected text, got {type(text).__name__}"])
    return _compile(text, mode)


@functools.lru_cache(maxsize=4096)
def _compile(text: str, mode: str) -> _Program:
    """Parse, check and compile once per text; rejections raise (and so are not cached)."""
    if len(text) > MAX_SOURCE:
        raise UnsafeExpression([f"text longer than {MAX_SOURCE} characters"])
    try:
        tree = ast.parse(text.strip() if mode == "eval" else textwrap.dedent(text), mode=mode)
        checker = _Checker(script=mode == "exec")
        checker.visit(tree)
        problems = checker.problems
        if not problems:
            compiler = _Compiler()
            body = getattr(tree, "body", None)
            run = compiler.expr(tree) if mode == "eval" else compiler.block(body) if body else None
    except SyntaxError as e:
        problems = [f"syntax error on line {e.lineno}: {e.msg}" if e.lineno else f"syntax error: {e.msg}"]
    except (RecursionError, MemoryError):
        problems = ["text is nested too deeply"]
    except UnsafeExpression as e:   # the compiler's own refusals (defence in depth behind the checker)
        problems = e.problems
    except (ValueError, KeyError, AttributeError, TypeError) as e:  # null bytes, or a construct it cannot build
        problems = [f"unsupported text ({type(e).__name__})"]
    if problems:
        raise UnsafeExpression(problems)
    return _Program(run or (lambda f: None), *_analyse(tree))


def _describe(e: BaseException) -> str:
    """One line, no traceback, for any exception raised while running diagram text."""
    if isinstance(e, KeyError):
        msg = f"key {e.args[0]!r} not found" if e.args else "key not found"
    elif isinstance(e, RecursionError):
        msg = "value nested too deeply"
    else:
        msg = f"{type(e).__name__}: {e}"
    return " ".join(msg.split())[:300]


def _run(program: _Program, names: Any, extra: dict | None, functions: Mapping | None,
         script: bool) -> Any:
    if program.mutated:             # private deep copies, so shallow-copied task data stays unshared
        names = names if script else dict(names)
        extra = dict(extra) if extra else extra
        for name in program.mutated:
            if name in names:
                names[name] = copy.deepcopy(names[name])
            elif extra and name in extra:
                extra[name] = copy.deepcopy(extra[name])
    f = _Frame(names, extra, functions or {}, _Budget())
    try:
        result = program.run(f)
        if script:
            for name in program.stored & names.keys():
                _measure(names[name], f, strict=True)
            return None
        return _measure(result, f) if type(result) in _CONTAINERS else result
    except ExpressionError:
        raise
    except Exception as e:
        raise ExpressionError(_describe(e)) from None


def check(text: str, mode: str = "eval") -> list[str]:
    """Static check: one-line problems, empty if the text is acceptable. Never runs anything."""
    try:
        _program(text, mode)
    except UnsafeExpression as e:
        return list(e.problems)
    return []


def evaluate(text: str, names: Mapping[str, Any], functions: Mapping[str, Callable] | None = None) -> Any:
    """Value of one expression over ``names``; ``names`` is never modified."""
    return _run(_program(text, "eval"), names, None, functions, script=False)


def execute(text: str, names: dict, functions: Mapping[str, Callable] | None = None) -> None:
    """Run a script; assignments to top-level names land in ``names``."""
    _run(_program(text, "exec"), names, None, functions, script=True)


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow environment that runs every diagram text through this language, never eval/exec."""

    def __init__(self, functions: Mapping[str, Callable] | None = None):
        super().__init__()
        self.functions = dict(functions or {})

    def _split(self, external_context: Mapping | None) -> tuple[dict | None, dict]:
        """External context holds callables (extra functions) and data objects (extra read-only names)."""
        if not external_context:
            return None, self.functions
        functions, extra = dict(self.functions), dict[str, Any]()
        for key, value in external_context.items():
            (functions if callable(value) else extra)[key] = value
        return extra, functions

    def evaluate(self, expression, context, external_context=None):
        extra, functions = self._split(external_context)
        return _run(_program(expression, "eval"), context, extra, functions, script=False)

    def execute(self, script, context, external_context=None):
        extra, functions = self._split(external_context)
        _run(_program(script, "exec"), context, extra, functions, script=True)
        return True
