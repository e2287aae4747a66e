"""The single table from BPMN operator name to handler function, with each handler's declared inputs.

Deploy-time validation checks a service task's operator and parameters against this table, and the engine
looks handlers up here at run time. Register with the ``@handler`` decorator.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Produces:
    """A record of the case file (案卷) that a handler's result produces; the engine writes it, in the step's
    transaction, after checking it against its kind (``engine/store/casefile.py``). Handlers never write it.

    ``fields`` maps a record field to where its value is in the result: a result key, ``a.b`` for a nested one,
    ``^key`` for a key of the whole result when ``each`` is set (``each`` names a list in the result: one record per
    item), or ``=text`` for a constant. ``when`` is ``key`` or ``key=value``: only results where the result (the item,
    with ``each``) has that value produce the record. Missing values are left out of the record."""
    kind: str
    fields: dict
    each: str | None = None
    when: str | None = None


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    func: Callable[..., dict]
    inputs: tuple[str, ...] = ()          # required parameter names
    optional: tuple[str, ...] = ()        # optional parameter names
    description: str = ""
    system: str | None = None             # the external system it calls through ``handlers.config.use``
    records: tuple[Produces, ...] = ()    # the case-file records its result produces

    def parameter_problems(self, given: set[str]) -> list[str]:
        """Explain how ``given`` parameter names differ from the declaration (empty when they match)."""
        problems = []
        missing = [n for n in self.inputs if n not in given]
        unknown = sorted(given - set(self.inputs) - set(self.optional))
        if missing:
            problems.append(f"operator '{self.name}' needs parameter(s) {', '.join(missing)}")
        if unknown:
            allowed = ", ".join(self.inputs + self.optional) or "none"
            problems.append(f"operator '{self.name}' has no parameter(s) {', '.join(unknown)} (allowed: {allowed})")
        return problems


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, HandlerSpec] = {}

    def register(self, spec: HandlerSpec) -> HandlerSpec:
        self._specs[spec.name] = spec
        return spec

    def unregister(self, name: str) -> None:
        self._specs.pop(name, None)

    def get(self, name: str) -> HandlerSpec | None:
        return self._specs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[HandlerSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.name))


REGISTRY = Registry()


def handler(name: str, inputs: tuple[str, ...] = (), optional: tuple[str, ...] = (), registry: Registry = REGISTRY,
            system: str | None = None, records: tuple[Produces, ...] = ()):
    """Register ``fn`` as the handler for operator ``name``; its docstring becomes the catalogue description.
    ``system`` names the one external system it calls (``use(system)``): the engine may then run it inside the
    step that reached its task when that system's configured adapter is local (``handlers.config.is_local``).
    ``records`` declares the case-file records its result produces (``Produces``)."""

    def decorate(fn: Callable[..., dict]) -> Callable[..., dict]:
        registry.register(HandlerSpec(name, fn, tuple(inputs), tuple(optional), (fn.__doc__ or "").strip(), system,
                                      tuple(records)))
        return fn

    return decorate
