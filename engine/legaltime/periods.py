"""Legal periods (期间) per Civil Procedure Law Art. 85 and the 2022 CPL Interpretation.

Pure code: no database, no clock. The holiday table (节假日安排) lives in the store; ``HolidayCalendar`` is
built from its rows (or straight from the ``chinese_calendar`` package, which only knows years up to 2026).

Rules implemented:
- the start day (起算日, the day of the triggering event) is not counted;
- a period in days ends at 24:00 court local time of the Nth day after the start day;
- a period in months/years ends on the corresponding day (对应日) of the final month, or its last day;
- a last day that is a day off (节假日, incl. 公休日 weekends) rolls to the next working day; adjusted working
  days (调休 make-up days) count as working days;
- hour/minute periods run from the exact moment, no roll;
- working-day periods (工作日) count N working days after the start day.
"""
from __future__ import annotations

import calendar as _cal
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

COURT_TZ = ZoneInfo("Asia/Shanghai")


def deadline_day(due: datetime) -> tuple[date, time | None]:
    """How a deadline reads (期间届满日): a legal period ends at 24:00 of its last day, stored as 00:00 of the
    next day, and is shown as that last day without a time; a deadline with a time of day (hours) keeps it."""
    local = due.astimezone(COURT_TZ)
    if local.time() == time(0):
        return (local - timedelta(days=1)).date(), None
    return local.date(), local.time()

UNITS = ("hours", "minutes", "days", "weeks", "months", "years", "working_days")
_ISO_DATE_UNITS = {"Y": "years", "M": "months", "W": "weeks", "D": "days", "WD": "working_days"}
_ISO_TIME_UNITS = {"H": "hours", "M": "minutes"}
_CN_UNITS = {"日": "days", "天": "days", "周": "weeks", "个月": "months", "年": "years", "小时": "hours",
             "分钟": "minutes", "个工作日": "working_days", "工作日": "working_days"}
_ISO_DATE = re.compile(r"P(\d+)(WD|[YMWD])")
_ISO_TIME = re.compile(r"PT(\d+)([HM])")
_CN = re.compile(r"(\d+)\s*(" + "|".join(sorted(_CN_UNITS, key=len, reverse=True)) + r")")
_FORMS = ("expected one of P10D, P2W, P6M, P1Y, PT24H, PT30M, P3WD (working days), "
          "10日/10天, 2周, 6个月, 1年, 24小时, 30分钟, 3个工作日 (one component, positive whole number)")
_MAX_ROLL = 366  # a table with a year of days off is a data error, not a period


@dataclass(frozen=True)
class Period:
    """A parsed period (期间): one amount of one unit."""
    amount: int
    unit: str  # "hours" | "minutes" | "days" | "weeks" | "months" | "years" | "working_days"

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown period unit {self.unit!r}; expected one of {', '.join(UNITS)}")
        if not isinstance(self.amount, int) or self.amount < 1:
            raise ValueError(f"period amount must be a positive whole number, got {self.amount!r}")


def parse_period(text: str) -> Period:
    """Parse ISO 8601 (one component, plus the zhixing ``P3WD`` working-day form) or the Chinese forms.

    Mixed durations (``P1Y2M``) are rejected: legally each unit has its own counting rule, so a period has one unit.
    """
    s = str(text).strip()
    for pattern, units in ((_ISO_DATE, _ISO_DATE_UNITS), (_ISO_TIME, _ISO_TIME_UNITS), (_CN, _CN_UNITS)):
        m = pattern.fullmatch(s.upper() if pattern is not _CN else s)
        if m and int(m.group(1)) > 0:
            return Period(int(m.group(1)), units[m.group(2)])
    raise ValueError(f"unsupported period {text!r}: {_FORMS}")


class HolidayCalendar:
    """Which days are working days (工作日) in the court's jurisdiction.

    ``days`` maps a date to True if it is a day off (节假日 or a weekend day inside a holiday block) and to False if
    it is an adjusted working day (调休上班). Other dates: Saturday/Sunday off (公休日), weekdays working.
    ``known_years`` are the years whose table is complete; any other year is a weekends-only guess.
    """

    def __init__(self, days: Mapping[date, bool] | None = None, known_years: Iterable[int] = ()):
        self._days: dict[date, bool] = dict(days or {})
        self._known: frozenset[int] = frozenset(known_years)

    @property
    def days(self) -> Mapping[date, bool]:
        return dict(self._days)

    @property
    def known_years(self) -> frozenset[int]:
        return self._known

    def is_working_day(self, d: date) -> bool:
        off = self._days.get(d)
        return d.weekday() < 5 if off is None else not off

    def is_known(self, year: int) -> bool:
        return year in self._known

    def with_days(self, days: Mapping[date, bool], known_years: Iterable[int] = ()) -> HolidayCalendar:
        """A new calendar with ``days`` added (they win) and ``known_years`` marked complete, e.g. a new year's
        State Council notice (国务院办公厅关于节假日安排的通知)."""
        return HolidayCalendar({**self._days, **dict(days)}, self._known | set(known_years))

    @classmethod
    def from_package(cls, first_year: int = 2004, last_year: int = 2026) -> HolidayCalendar:
        """Built from ``chinese_calendar``'s tables; only years the package knows are marked known."""
        rows = package_rows(first_year, last_year)
        years = [y for y in package_years() if first_year <= y <= last_year]
        return cls({d: off for d, off, _ in rows}, years)


def package_years() -> range:
    """The years the installed ``chinese_calendar`` knows (it raises NotImplementedError outside them)."""
    from chinese_calendar.constants import holidays
    return range(min(holidays).year, max(holidays).year + 1)


def package_rows(first_year: int = 2004, last_year: int | None = None) -> list[tuple[date, bool, str]]:
    """(date, is_day_off, name) rows to seed the store's holiday table: every statutory holiday day (day off) and
    every adjusted working day (调休, not a day off). Name is the package's Chinese name (e.g. 国庆节)."""
    from chinese_calendar.constants import Holiday, holidays, workdays

    last_year = package_years().stop - 1 if last_year is None else last_year
    chinese = {h.value: h.chinese for h in Holiday}
    rows = [(d, off, chinese.get(name, name))
            for table, off in ((holidays, True), (workdays, False))
            for d, name in table.items() if first_year <= d.year <= last_year]
    return sorted(rows)


@dataclass(frozen=True)
class Deadline:
    due: datetime          # aware, UTC: the moment the period expires (24:00 local of last_day)
    last_day: date | None  # local last day of the period (None for hour/minute periods)
    provisional: bool      # True if a year consulted had no holiday data (weekends-only fallback)


def deadline(start: datetime, period: str | Period, calendar: HolidayCalendar) -> Deadline:
    """Deadline of ``period`` from the triggering moment ``start`` (aware); its court local date is the start day."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be a timezone-aware datetime")
    p = period if isinstance(period, Period) else parse_period(period)
    if p.unit in ("hours", "minutes"):
        # Hour periods (以时计算) run from the exact moment and never roll over holidays.
        return Deadline(start.astimezone(UTC) + timedelta(**{p.unit: p.amount}), None, False)
    return deadline_from_date(start.astimezone(COURT_TZ).date(), p, calendar)


def deadline_from_date(start_day: date, period: str | Period, calendar: HolidayCalendar) -> Deadline:
    """Deadline of a day/month/year/working-day ``period`` whose start day (not counted) is the local ``start_day``."""
    if isinstance(start_day, datetime):
        raise TypeError("start_day must be a date; use deadline() for a moment")
    p = period if isinstance(period, Period) else parse_period(period)
    consulted: set[int] = set()

    def working(d: date) -> bool:
        consulted.add(d.year)
        return calendar.is_working_day(d)

    if p.unit in ("hours", "minutes"):
        raise ValueError(f"a period in {p.unit} runs from a moment, not a day; use deadline()")
    if p.unit == "working_days":
        last, left = start_day, p.amount
        while left:
            last += timedelta(days=1)
            if working(last):
                left -= 1
    else:
        if p.unit in ("days", "weeks"):
            last = start_day + timedelta(days=p.amount * (7 if p.unit == "weeks" else 1))
        else:
            last = _add_months(start_day, p.amount * (12 if p.unit == "years" else 1))
        # Last day on a day off (节假日) -> the first working day after it.
        for _ in range(_MAX_ROLL):
            if working(last):
                break
            last += timedelta(days=1)
        else:
            raise ValueError(f"no working day within {_MAX_ROLL} days of {last}: check the holiday table")
    due = datetime.combine(last + timedelta(days=1), time(0), COURT_TZ).astimezone(UTC)
    return Deadline(due, last, any(not calendar.is_known(y) for y in consulted))


def _add_months(d: date, months: int) -> date:
    """The corresponding day (对应日) ``months`` later, or the last day of that month if it has none."""
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    return date(year, month, min(d.day, _cal.monthrange(year, month)[1]))
