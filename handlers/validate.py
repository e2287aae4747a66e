"""Input checks shared by the enforcement handlers.

Each check returns the cleaned value or raises ``BusinessRejection`` whose ``details`` name the offending
``field`` (plus ``allowed``/``value`` where that helps), so an incident tells the clerk what to fix. Checks here
are pure: anything that depends on an external system's state is that system's (adapter's) decision.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NoReturn

from handlers.base import BusinessRejection, HandlerContext

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def reject(field: str, message: str, **details: object) -> NoReturn:
    raise BusinessRejection(message, {"field": field, **details})


def text(field: str, value: object, *, max_len: int = 200) -> str:
    """A non-empty text, stripped."""
    if not isinstance(value, str):
        reject(field, f"{field} must be a text, not {type(value).__name__}", type=type(value).__name__)
    value = value.strip()
    if not value:
        reject(field, f"{field} is empty")
    if len(value) > max_len:
        reject(field, f"{field} is longer than {max_len} characters", length=len(value))
    return value


def optional_text(field: str, value: object, *, max_len: int = 200) -> str | None:
    return None if value is None or value == "" else text(field, value, max_len=max_len)


def choice(field: str, value: object, allowed: Iterable[str]) -> str:
    """One of ``allowed`` (codes, not labels: the Chinese terms are in the docs and the results)."""
    allowed = list(allowed)
    if not isinstance(value, str) or value.strip() not in allowed:
        reject(field, f"{field} must be one of {', '.join(allowed)}; got {value!r}", allowed=allowed,
               value=str(value))
    return value.strip()


def integer(field: str, value: object, lo: int, hi: int) -> int:
    """A whole number in ``lo..hi``; digit strings are accepted because diagram variables often are text."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        reject(field, f"{field} must be a whole number", value=str(value))
    if not lo <= value <= hi:
        reject(field, f"{field} must be between {lo} and {hi}; got {value}", min=lo, max=hi, value=value)
    return value


def choices(field: str, value: object, allowed: Iterable[str]) -> tuple[str, ...]:
    """A non-empty list of distinct codes from ``allowed``, in the given order."""
    allowed = list(allowed)
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        reject(field, f"{field} must be a non-empty list of {', '.join(allowed)}", allowed=allowed)
    unknown = [str(v) for v in value if v not in allowed]
    if unknown:
        reject(field, f"{field} has unknown value(s) {', '.join(unknown)}", allowed=allowed, unknown=unknown)
    return tuple(dict.fromkeys(value))


def fields_map(field: str, value: object) -> dict:
    """A small mapping of template fields: snake_case keys to text, numbers, yes/no or lists of text."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        reject(field, f"{field} must be a mapping of names to values", type=type(value).__name__)
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _KEY.match(key):
            reject(f"{field}.{key}", f"{field} key {key!r} must be snake_case (a-z, 0-9, _)")
        if isinstance(item, (list, tuple)):
            item = [text(f"{field}.{key}", v, max_len=500) for v in item]
        elif not isinstance(item, (str, int, float, bool)):
            reject(f"{field}.{key}", f"{field}.{key} must be a text, a number, true/false or a list of texts")
        elif isinstance(item, str) and len(item) > 2000:
            reject(f"{field}.{key}", f"{field}.{key} is longer than 2000 characters")
        out[key] = item
    return out


def case_no(ctx: HandlerContext, value: object = None) -> str:
    """The case number (案号): the parameter if given, else the case the engine runs the task for."""
    if value is not None:
        return text("case_no", value, max_len=60)
    if not ctx.case_no:
        reject("case_no", "this task runs without a case number; pass case_no")
    return ctx.case_no


def case_ref(ctx: HandlerContext) -> str:
    """What identifies 'this case' to a sandbox: the case number, else the process instance."""
    return ctx.case_no or f"instance:{ctx.instance_id}"
