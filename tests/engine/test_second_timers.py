"""Timers in seconds: a non-legal (exact) duration such as ``PT5S`` deploys and fires five seconds on, while a
legal period (days, weeks, months, years: CPL Art 85) keeps its units and its holiday rule."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.legaltime.periods import HolidayCalendar, Period, deadline, deadline_from_date, parse_period

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="short_wait" name="短等待" isExecutable="true">
<bpmn:laneSet id="ls"><bpmn:lane id="l" name="filing_clerk"><bpmn:flowNodeRef>after</bpmn:flowNodeRef></bpmn:lane>
</bpmn:laneSet>
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="wait" name="等五秒">
<bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:userTask id="after" name="之后"/>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>
</bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize("text", ["PT5S", "5秒", " pt5s "])
def test_seconds_parse_as_an_exact_period(text):
    assert parse_period(text) == Period(5, "seconds")


def test_seconds_run_from_the_moment_and_ignore_holidays():
    from datetime import datetime

    from engine.legaltime.periods import COURT_TZ
    start = datetime(2025, 9, 30, 23, 59, 58, tzinfo=COURT_TZ)          # into the National Day holiday
    result = deadline(start, "PT5S", HolidayCalendar())
    assert (result.due, result.last_day, result.provisional) == (start + timedelta(seconds=5), None, False)
    with pytest.raises(ValueError, match="from a moment"):
        deadline_from_date(date(2025, 9, 30), "PT5S", HolidayCalendar())


def test_mixed_and_fractional_seconds_are_still_refused():
    for text in ("PT1M5S", "PT0.5S", "PT0S", "P1DT5S"):
        with pytest.raises(ValueError, match="PT5S"):
            parse_period(text)


def test_a_five_second_timer_deploys_and_fires_five_seconds_on(engine, clock):
    engine.deploy({"short_wait.bpmn": DIAGRAM.format(duration='"PT5S"').encode()}, actor="test")
    view = engine.start("short_wait", "（2026）J0104执1号", "J0104", {}, actor="clerk")
    [timer] = engine.job_list(kind="timer", instance_id=view.id)
    assert timer.due_at == clock.now() + timedelta(seconds=5)
    clock.advance(timedelta(seconds=4))
    assert engine.run_until_idle() == 0
    clock.advance(timedelta(seconds=1))
    assert engine.run_until_idle() == 1
    assert engine.instance(view.id).open_tasks == ("after",)


def test_a_legal_period_in_seconds_form_is_not_invented(engine):
    """Days stay days: ``P5S`` (no time designator) is not a period and the deployment says so."""
    from engine.errors import DefinitionInvalid
    with pytest.raises(DefinitionInvalid, match="unsupported period 'P5S'"):
        engine.deploy({"short_wait.bpmn": DIAGRAM.format(duration='"P5S"').encode()}, actor="test")
