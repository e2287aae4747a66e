"""Form schemas (JSON Schema 2020-12) whose ``pattern``s run in linear time.

jsonschema matches ``pattern`` and ``patternProperties`` with Python's backtracking ``re``: ``"^(a+)+$"`` took
5.5 s on 27 × "a" + "!" and held the database's write lock meanwhile. Here both go through RE2 (the
``google-re2`` binding), whose matching time is linear in the text. RE2 has no backreferences or lookaround, so a
pattern using them is refused when the form is deployed or saved (``pattern_problems``) rather than run.
"""
from __future__ import annotations

import functools

import jsonschema
import re2
from jsonschema import ValidationError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False           # a refused pattern is reported to the designer, not written to stderr
_OPTIONS.max_mem = 8 << 20            # bytes of automaton per pattern


@functools.lru_cache(maxsize=512)
def compiled(pattern: str):
    """The RE2 form of ``pattern``; raises ``ValueError`` naming why it cannot run in linear time."""
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"pattern {pattern!r} cannot be matched in linear time ({reason}); write it without "
                         "backreferences and lookaround") from None


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and compiled(pattern).search(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        regex = compiled(pattern)
        for key, value in instance.items():
            if regex.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


FormValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"pattern": _pattern, "patternProperties": _pattern_properties})


def pattern_problems(schema) -> list[str]:
    """Why each ``pattern`` / ``patternProperties`` key of a form schema would not run in linear time."""
    problems, stack = [], [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        candidates = []
        if isinstance(node.get("pattern"), str):
            candidates.append(node["pattern"])
        if isinstance(node.get("patternProperties"), dict):
            candidates.extend(node["patternProperties"])
        for pattern in candidates:
            try:
                compiled(pattern)
            except ValueError as exc:
                problems.append(str(exc))
        stack.extend(node.values())
    return problems
