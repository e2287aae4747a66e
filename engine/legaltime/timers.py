"""Timers on legal time (期间).

SpiffWorkflow reads ``P1M`` as "the days of the current month" and knows no holidays. In zhixing a timer duration
with a date part (``P10D``, ``P2W``, ``P6M``, ``P1Y``) is a legal period per CPL Art. 85: the start day is not
counted, months end on the corresponding day, a last day that is a holiday rolls to the next working day. A
duration with only a time part (``PT24H``) is exact. ``deadline(period[, start])`` and ``working_days(n[, start])``
give the same for ``timeDate`` timers and for scripts.

The holiday calendar comes from the store; the engine puts the current one in a ``ContextVar`` for each command.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import date, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from engine.legaltime import clock
from engine.legaltime.periods import COURT_TZ, Deadline, HolidayCalendar, deadline_from_date
from engine.legaltime.periods import deadline as legal_deadline

# the default (weekends only) is never changed: calendars are replaced whole, never edited in place
_calendar: ContextVar[HolidayCalendar] = ContextVar("zhixing_calendar", default=HolidayCalendar())  # noqa: B039


def current_calendar() -> HolidayCalendar:
    return _calendar.get()


@contextlib.contextmanager
def using_calendar(calendar: HolidayCalendar) -> Iterator[None]:
    token = _calendar.set(calendar)
    try:
        yield
    finally:
        _calendar.reset(token)


def compute_deadline(period: str, start: str | date | datetime | None = None) -> Deadline:
    """The deadline of ``period`` counted from ``start`` (default: now), on the current holiday calendar."""
    calendar = current_calendar()
    if start is None:
        return legal_deadline(clock.current().now(), period, calendar)
    if isinstance(start, str):
        start = datetime.fromisoformat(start) if "T" in start else date.fromisoformat(start)
    if isinstance(start, datetime):
        if start.tzinfo is None:
            start = start.replace(tzinfo=COURT_TZ)
        return legal_deadline(start, period, calendar)
    return deadline_from_date(start, period, calendar)


def expression_functions() -> dict:
    """Functions the safe expression language offers diagrams for legal time."""

    def deadline(period, start=None):
        return compute_deadline(str(period), start).due.isoformat()

    def working_days(n, start=None):
        return compute_deadline(f"P{int(n)}WD", start).due.isoformat()

    def today():
        return clock.current().now().astimezone(COURT_TZ).date().isoformat()

    return {"deadline": deadline, "working_days": working_days, "today": today}


class LegalDurationTimerEventDefinition(DurationTimerEventDefinition):
    """A duration timer whose due time follows legal time (see module docstring)."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            due = compute_deadline(str(expression))
            event_value = due.due.isoformat()
            my_task._set_internal_data(event_value=event_value, provisional=due.provisional,
                                       event_start=clock.current().now().isoformat())
        if TimerEventDefinition.get_datetime(event_value) <= clock.current().now():
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockDateTimerEventDefinition(TimeDateEventDefinition):
    """A date timer that fires at its due moment (SpiffWorkflow's fires only strictly after it, so a virtual clock
    set exactly to the due time would never fire it)."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.parse_time_or_duration(event_value) <= clock.current().now():
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


MAX_CYCLE_REPEATS = 1000                  # a cycle is bounded: R/… (for ever) is refused
MIN_CYCLE_INTERVAL = timedelta(hours=1)   # no court procedure repeats faster; R100000/PT0S fired 100,000 times in
                                          # one engine step (90 s at 100% CPU, SQLite's write lock held)


def cycle_problem(value: str) -> str | None:
    """Why a ``timeCycle`` value may not run (unreadable, unbounded, too frequent), or None."""
    try:
        parsed = value.upper().startswith("R") and TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:   # SpiffWorkflow's parser raises bare Exception and worse on bad input
        parsed = None
    if not parsed:
        return f'timeCycle "{value}" is not an ISO 8601 repeating interval; write e.g. "R5/P6M"'
    repeats, _start, interval = parsed
    if not 1 <= repeats <= MAX_CYCLE_REPEATS:
        return (f'timeCycle "{value}" repeats {"for ever" if repeats < 0 else repeats} times: give a count from 1 '
                f'to {MAX_CYCLE_REPEATS}, e.g. "R5/P6M"')
    if interval < MIN_CYCLE_INTERVAL:
        return (f'timeCycle "{value}" repeats every {interval}: the interval must be at least {MIN_CYCLE_INTERVAL} '
                '(PT1H), e.g. "R5/P6M"')
    return None


class BoundedCycleTimerEventDefinition(CycleTimerEventDefinition):
    """A cycle timer whose value, computed at run time, is held to the bounds that deploy checks on literals."""

    def cycle_complete(self, my_task):
        if my_task._get_internal_data("event_value") is None:
            value = str(my_task.workflow.script_engine.evaluate(my_task, self.expression))
            problem = cycle_problem(value)
            if problem:
                raise ValueError(problem)
        return super().cycle_complete(my_task)


_LEGAL = {DurationTimerEventDefinition: LegalDurationTimerEventDefinition,
          TimeDateEventDefinition: ClockDateTimerEventDefinition,
          CycleTimerEventDefinition: BoundedCycleTimerEventDefinition}


def use_legal_durations(specs) -> None:
    """Swap SpiffWorkflow's duration and date timers for the engine's in parsed specs (called once per deploy),
    including the timers of event-based gateways and multiple catches."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            parts = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
            for part in parts:
                if type(part) in _LEGAL:
                    part.__class__ = _LEGAL[type(part)]
