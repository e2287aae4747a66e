"""Checks on diagram text that runs: conditions, scripts, payloads, timers and DMN entries.

All of it must be in the safe expression language (``engine.kernel.expressions``), since that is all the engine will
run. Timers get more: a literal must be ISO 8601 of the right kind, and a call may only be a legal-time function
with a literal period, so a wrong period fails at deploy time rather than when the timer is due.
"""
from __future__ import annotations

import ast
import re
from datetime import datetime

from engine.definitions.validation.report import Report, local, owner_id
from engine.legaltime.periods import parse_period
from engine.legaltime.timers import cycle_problem

# element local name -> (mode, what) for texts that are plain expressions or scripts
EXPRESSIONS = {"conditionExpression": ("eval", "condition"), "condition": ("eval", "condition"),
               "script": ("exec", "script"), "preScript": ("exec", "preScript"), "postScript": ("exec", "postScript"),
               "messagePayload": ("eval", "message payload"), "expression": ("eval", "correlation expression"),
               "loopCardinality": ("eval", "loop cardinality"), "completionCondition": ("eval", "completion condition"),
               "loopCondition": ("eval", "loop condition")}
TIMERS = {"timeDuration": '"P10D"', "timeDate": 'deadline("P6M")', "timeCycle": '"R5/P6M"'}   # kind -> example
_ISO_LIKE = re.compile(r"(R\d*/.*|P(?=.*\d)[\dYMWDTHS.,]+|\d{4}-\d\d-\d\d.*)", re.IGNORECASE)
_DMN = {"inputExpression": "DMN input expression", "inputEntry": "DMN input entry", "outputEntry": "DMN output entry"}


def check_text(r: Report, file: str, el, kind: str) -> None:
    if kind in TIMERS:
        _timer(r, file, el, kind)
    elif kind in EXPRESSIONS:
        r.expr(file, el, el.text, *EXPRESSIONS[kind])


def _timer(r: Report, file: str, el, kind: str) -> None:
    text = (el.text or "").strip()
    if not text:
        r.add(file, el, f"{kind} is empty; write an expression such as {TIMERS[kind]}")
    elif _ISO_LIKE.fullmatch(text) or _is_period(text):
        r.add(file, el, f'{kind} {text} is not quoted; timer text is an expression: write "{text}"')
    elif r.expr(file, el, text, "eval", kind):
        node = ast.parse(text, mode="eval").body
        if isinstance(node, ast.Constant):
            problem = _timer_literal(kind, node.value)
        elif isinstance(node, ast.Call):
            problem = _timer_call(kind, node)
        else:
            problem = None   # a variable or another safe expression, computed at run time
        if problem:
            r.add(file, el, problem)


def _is_period(text: str) -> bool:
    try:
        parse_period(text)
        return True
    except ValueError:
        return False


def _timer_literal(kind: str, value) -> str | None:
    if not isinstance(value, str):
        return f"{kind} must be a quoted ISO 8601 text or an expression, not {value!r}; write e.g. {TIMERS[kind]}"
    if kind == "timeDuration":
        try:
            parse_period(value)
        except ValueError as exc:
            return f"timeDuration: {exc}"
    elif kind == "timeDate":
        try:
            naive = datetime.fromisoformat(value).tzinfo is None
        except ValueError:
            return f'timeDate "{value}" is not an ISO 8601 date-time; write e.g. "2030-05-01T09:00:00+08:00" ' \
                   'or deadline("P6M")'
        if naive:   # SpiffWorkflow would read it in the server's zone, whatever that is
            return f'timeDate "{value}" has no time zone; add the court\'s, e.g. "2030-05-01T09:00:00+08:00"'
    else:
        return cycle_problem(value)
    return None


def _timer_call(kind: str, node: ast.Call) -> str | None:
    name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
    if name not in ("deadline", "working_days"):
        return f"{kind} calls {name}(); a timer may call only deadline(period[, start]) or working_days(n[, start])"
    if kind != "timeDate":
        return f'{name}() gives a date-time: use it in a timeDate; a {kind} takes a quoted period such as "P10D"'
    first = node.args[0] if node.args else None
    if first is None or len(node.args) + len(node.keywords) > 2 or any(k.arg != "start" for k in node.keywords):
        return f"{name}() takes {'a period' if name == 'deadline' else 'a number of working days'} " \
               "and an optional start"
    if name == "working_days":
        if not (isinstance(first, ast.Constant) and type(first.value) is int and first.value > 0):
            return "working_days() needs a whole number of days written out, such as working_days(3)"
        return None
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return 'deadline() needs a quoted period written out, such as deadline("P6M")'
    try:
        parse_period(first.value)
    except ValueError as exc:
        return f"deadline(): {exc}"
    return None


def check_dmn(r: Report, file: str, root) -> None:
    """DMN texts as SpiffWorkflow runs them: Python, with ``?`` or a leading operator meaning the input."""
    for el in root.iter():
        kind = local(el)
        text_el = next((c for c in el if local(c) == "text"), None) if kind in _DMN else None
        text = (text_el.text or "").strip() if text_el is not None else ""
        if not text or (kind == "inputEntry" and text == "-"):
            continue
        if kind == "inputEntry":
            if re.match(r"(not\s+)?in\b", text):   # SpiffWorkflow glues it to the input: 'debtor_typein (...)'
                r.add(file, text_el, f"DMN input entry '{text}' does not work in SpiffWorkflow; write '? {text}'",
                      owner_id(el))
                continue
            text = re.sub(r"\?(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)", "dmn_input", text)   # '?' outside quotes
            text = f"dmn_input {text}" if text[0] in "<>=!" else text
        r.expr(file, text_el, text, "eval", _DMN[kind], owner_id(el))
