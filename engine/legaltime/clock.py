"""One clock for the whole engine: real in production, virtual in tests and simulation.

SpiffWorkflow's timers call ``datetime.now(timezone.utc)`` on their module's ``datetime`` name, with no way to
inject a clock. ``install()`` replaces that name, once, with a ``datetime`` subclass whose ``now()`` asks the
clock of the current context (a ``ContextVar``, so threads and concurrent commands never see each other's clock).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that only moves when told to (tests, ``zhixing simulate``)."""

    def __init__(self, start: datetime | None = None):
        start = start or datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


_SYSTEM = SystemClock()
_current: ContextVar[Clock] = ContextVar("zhixing_clock", default=_SYSTEM)


def current() -> Clock:
    return _current.get()


@contextlib.contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


class _ClockDatetime(datetime):
    """``datetime`` whose ``now()`` reads the context clock; everything else is the real class."""

    @classmethod
    def now(cls, tz=None):
        moment = _current.get().now()
        return moment if tz is None else moment.astimezone(tz)


def install() -> None:
    """Point SpiffWorkflow's timer module at the context clock (idempotent)."""
    import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_module

    timer_module.datetime = _ClockDatetime
