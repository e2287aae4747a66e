"""Legal periods (期间): start day not counted, month ends, holiday roll, 调休, working days, provisional years.

Holiday facts below were checked against chinese_calendar 1.11 (and are asserted against it where they matter).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest

from engine.legaltime.periods import (
    COURT_TZ,
    Deadline,
    HolidayCalendar,
    Period,
    deadline,
    deadline_from_date,
    package_rows,
    package_years,
    parse_period,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


@pytest.fixture(scope="module")
def cal() -> HolidayCalendar:
    return HolidayCalendar.from_package()


def local(*args) -> datetime:
    return datetime(*args, tzinfo=COURT_TZ)


def midnight_after(d: date) -> datetime:
    """24:00 local of ``d`` as UTC: the moment a period whose last day is ``d`` expires."""
    return datetime(d.year, d.month, d.day, tzinfo=COURT_TZ).astimezone(UTC) + timedelta(days=1)


# --- the package facts the tests rely on ---------------------------------------------------------------------

def test_package_facts_used_below():
    # 2025 National Day (国庆节+中秋): Oct 1-8 off; Sun Sept 28 and Sat Oct 11 are adjusted working days (调休).
    assert all(chinese_calendar.is_holiday(date(2025, 10, d)) for d in range(1, 9))
    assert chinese_calendar.is_workday(date(2025, 9, 28)) and date(2025, 9, 28).weekday() == SUN
    assert chinese_calendar.is_workday(date(2025, 10, 11)) and date(2025, 10, 11).weekday() == SAT
    # 2026 Spring Festival (春节): Feb 15-23 off; Sat Feb 14 and Sat Feb 28 are adjusted working days.
    assert all(chinese_calendar.is_holiday(date(2026, 2, d)) for d in range(15, 24))
    assert chinese_calendar.is_workday(date(2026, 2, 24))
    assert chinese_calendar.is_workday(date(2026, 2, 28)) and date(2026, 2, 28).weekday() == SAT
    # 2026 New Year (元旦): Jan 1-3 off (Sat Jan 3 included), Sun Jan 4 adjusted working day.
    assert chinese_calendar.is_holiday(date(2026, 1, 3)) and chinese_calendar.is_workday(date(2026, 1, 4))


def test_from_package_agrees_with_chinese_calendar_for_every_day_of_2025(cal):
    day = date(2025, 1, 1)
    while day.year == 2025:
        assert cal.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)
    assert cal.is_known(2025) and cal.is_known(2026) and not cal.is_known(2027)


def test_package_rows_and_years():
    rows = package_rows()
    assert (date(2026, 10, 1), True, "国庆节") in rows             # National Day 2026, a day off
    assert (date(2025, 10, 11), False, "国庆节") in rows           # the make-up Saturday (调休), not a day off
    assert all(isinstance(name, str) and name for _, _, name in rows)
    assert package_years() == range(2004, 2027)
    assert [r for r in package_rows(2025, 2025) if r[0].year != 2025] == []


# --- days: start day not counted, holiday roll ---------------------------------------------------------------

def test_start_day_not_counted():
    # Start Mon 2026-03-02 10:00 local; day 1 = Tue 3/3, day 3 = Thu 3/5 (a plain working day),
    # so the period expires at 24:00 Thu = 2026-03-06 00:00 local = 2026-03-05 16:00 UTC.
    result = deadline(local(2026, 3, 2, 10), "P3D", HolidayCalendar.from_package())
    assert date(2026, 3, 2).weekday() == MON and date(2026, 3, 5).weekday() == THU
    assert result == Deadline(datetime(2026, 3, 5, 16, tzinfo=UTC), date(2026, 3, 5), False)


def test_start_day_is_the_court_local_date(cal):
    # 2026-03-02 17:00 UTC is already 2026-03-03 01:00 in Beijing: the start day is Tue 3/3, so +3 days = Fri 3/6.
    result = deadline(datetime(2026, 3, 2, 17, tzinfo=UTC), "P3D", cal)
    assert result.last_day == date(2026, 3, 6)


def test_ten_days_ending_in_2025_national_day_roll_to_first_working_day(cal):
    # Mon 9/22 + 10 days = Thu 10/2, inside the Oct 1-8 holiday; the first working day after is Thu 10/9.
    result = deadline_from_date(date(2025, 9, 22), "P10D", cal)
    assert result.last_day == date(2025, 10, 9) and date(2025, 10, 9).weekday() == THU
    assert result.due == datetime(2025, 10, 9, 16, tzinfo=UTC)  # 10/10 00:00 local
    assert result.provisional is False


def test_period_ending_in_2026_spring_festival_rolls_over(cal):
    # Sun 2/8 + 10 days = Wed 2/18, inside the Feb 15-23 holiday; first working day after is Tue 2/24.
    result = deadline_from_date(date(2026, 2, 8), "10日", cal)
    assert result.last_day == date(2026, 2, 24) and date(2026, 2, 24).weekday() == TUE


def test_adjusted_weekend_working_day_stops_the_roll(cal):
    # Ends Sat 2025-10-11, normally a rest day, but a 调休 working day: no roll (would otherwise be Mon 10/13).
    assert deadline_from_date(date(2025, 10, 1), "P10D", cal).last_day == date(2025, 10, 11)
    # Ends Sat 2026-01-03 (New Year holiday): rolls to Sun 1/4, an adjusted working day, not to Mon 1/5.
    assert deadline_from_date(date(2025, 12, 27), "P7D", cal).last_day == date(2026, 1, 4)


def test_plain_weekend_rolls_to_monday(cal):
    # Thu 2026-03-05 + 2 days = Sat 3/7 -> Mon 3/9; + 1 week = Thu 3/12 (working, no roll).
    assert deadline_from_date(date(2026, 3, 5), "P2D", cal).last_day == date(2026, 3, 9)
    assert deadline_from_date(date(2026, 3, 5), "P1W", cal).last_day == date(2026, 3, 12)


# --- months and years: corresponding day ----------------------------------------------------------------------

@pytest.mark.parametrize("start, period, last_day, provisional", [
    # Jan 31 + 1 month: February has no 31st -> Feb 28 (a Saturday, but an adjusted working day: no roll).
    (date(2026, 1, 31), "P1M", date(2026, 2, 28), False),
    # Leap day + 1 year: 2029 has no Feb 29 -> Wed 2029-02-28; 2029 has no holiday data -> provisional.
    (date(2028, 2, 29), "P1Y", date(2029, 2, 28), True),
    # Aug 31 + 6 months -> Fri 2025-02-28, a working day.
    (date(2024, 8, 31), "P6M", date(2025, 2, 28), False),
    # Mar 15 + 6 months -> Tue 2026-09-15, the corresponding day, not "6 x days of the current month".
    (date(2026, 3, 15), "6个月", date(2026, 9, 15), False),
    # 5-year re-query (终本): 2031-03-15 is a Saturday -> Mon 3/17 on weekends only, provisional.
    (date(2026, 3, 15), "P5Y", date(2031, 3, 17), True),
])
def test_month_and_year_periods(cal, start, period, last_day, provisional):
    result = deadline_from_date(start, period, cal)
    assert (result.last_day, result.provisional) == (last_day, provisional)
    assert result.due == midnight_after(last_day)


# --- hours: exact, no roll --------------------------------------------------------------------------------------

def test_hour_periods_ignore_holidays(cal):
    # 24 hours from 2025-09-30 12:00 local ends 10/1 12:00 local, in the holiday: no roll, no last day.
    result = deadline(local(2025, 9, 30, 12), "PT24H", cal)
    assert result == Deadline(local(2025, 10, 1, 12).astimezone(UTC), None, False)
    assert deadline(local(2025, 9, 30, 23, 50), "PT30M", cal).due == local(2025, 10, 1, 0, 20)
    with pytest.raises(ValueError, match="from a moment"):
        deadline_from_date(date(2025, 9, 30), "PT24H", cal)


def test_naive_start_rejected(cal):
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(datetime(2026, 3, 2, 10), "P3D", cal)


# --- working days -----------------------------------------------------------------------------------------------

def test_working_days_across_a_weekend(cal):
    # Thu 2026-03-05: Fri 3/6 (1), Sat/Sun skipped, Mon 3/9 (2), Tue 3/10 (3).
    result = deadline_from_date(date(2026, 3, 5), "P3WD", cal)
    assert result.last_day == date(2026, 3, 10) and result.due == midnight_after(date(2026, 3, 10))


def test_working_days_across_national_day_count_adjusted_saturday(cal):
    # Tue 2025-09-30: Oct 1-8 off, Thu 10/9 (1), Fri 10/10 (2), Sat 10/11 adjusted working day (3).
    assert deadline_from_date(date(2025, 9, 30), "3个工作日", cal).last_day == date(2025, 10, 11)
    # The start day itself is not counted even when it is a working day: Fri 9/26 -> Sun 9/28 (调休) is day 1.
    assert deadline_from_date(date(2025, 9, 26), "P1WD", cal).last_day == date(2025, 9, 28)


# --- years without data: weekends only, provisional --------------------------------------------------------------

def test_year_without_data_is_provisional_until_its_table_arrives(cal):
    # Fri 2031-09-26 + 5 days = Wed 2031-10-01: a weekday, so on weekends only it is the last day, provisional.
    assert date(2031, 10, 1).weekday() == WED
    guess = deadline_from_date(date(2031, 9, 26), "P5D", cal)
    assert (guess.last_day, guess.provisional) == (date(2031, 10, 1), True)
    # A weekend day in 2031 still rolls: Sat 10/4 -> Mon 10/6.
    assert deadline_from_date(date(2031, 9, 29), "P5D", cal).last_day == date(2031, 10, 6)

    # The admin adds 2031's National Day (Oct 1-7 off, say Sun 9/28 worked): Oct 1 rolls to Wed 10/8, final.
    table = {date(2031, 10, d): True for d in range(1, 8)} | {date(2031, 9, 28): False}
    final = deadline_from_date(date(2031, 9, 26), "P5D", cal.with_days(table, known_years=[2031]))
    assert (final.last_day, final.provisional) == (date(2031, 10, 8), False)
    assert cal.is_known(2031) is False  # with_days returns a new calendar


def test_empty_calendar_is_weekends_only_and_provisional():
    result = deadline_from_date(date(2025, 9, 22), "P10D", HolidayCalendar())
    assert (result.last_day, result.provisional) == (date(2025, 10, 2), True)


# --- parsing ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, period", [
    ("P10D", Period(10, "days")), ("P2W", Period(2, "weeks")), ("P6M", Period(6, "months")),
    ("P1Y", Period(1, "years")), ("PT24H", Period(24, "hours")), ("PT30M", Period(30, "minutes")),
    ("P3WD", Period(3, "working_days")), (" p15d ", Period(15, "days")),
    ("10日", Period(10, "days")), ("10天", Period(10, "days")), ("6个月", Period(6, "months")),
    ("1年", Period(1, "years")), ("24小时", Period(24, "hours")), ("3个工作日", Period(3, "working_days")),
])
def test_parse_period_accepts(text, period):
    assert parse_period(text) == period


@pytest.mark.parametrize("text", ["P1Y2M", "P1DT2H", "10", "P0D", "P-1D", "P1.5D", "6月", "PT", "ten days", ""])
def test_parse_period_rejects_with_the_accepted_forms(text):
    with pytest.raises(ValueError, match=r"unsupported period .*P10D.*PT24H.*P3WD.*3个工作日") as info:
        parse_period(text)
    assert "\n" not in str(info.value)


def test_period_validates_its_fields():
    with pytest.raises(ValueError, match="unit"):
        Period(3, "fortnights")
    with pytest.raises(ValueError, match="positive"):
        Period(0, "days")
