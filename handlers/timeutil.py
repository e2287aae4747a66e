"""Court dates: the handlers speak Beijing time (China has no daylight saving, so a fixed UTC+8 offset).

The engine hands handlers an aware UTC ``ctx.now``; legal periods (冻结期限, 失信期限, 发放期限) are counted in
calendar dates at the court, so every date a handler returns is a Beijing date.
"""
from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_CN_DIGITS = "〇一二三四五六七八九"


def local(now: datetime) -> datetime:
    """``now`` in Beijing time; a naive datetime is taken to be UTC (the engine's convention)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(BEIJING)


def stamp(now: datetime) -> str:
    """An ISO timestamp with the +08:00 offset, to the second."""
    return local(now).isoformat(timespec="seconds")


def today(now: datetime) -> date:
    return local(now).date()


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_end(start: date, months: int) -> date:
    """Last day of a term of ``months`` that starts on ``start`` (a 1-year freeze from 2 Mar ends on 1 Mar)."""
    return add_months(start, months) - timedelta(days=1)


def cn_date(day: date) -> str:
    """A date as court documents write it: 二〇二六年三月二日."""
    def small(n: int) -> str:
        tens, ones = divmod(n, 10)
        return (("" if tens == 1 else _CN_DIGITS[tens]) + "十" if tens else "") + (_CN_DIGITS[ones] if ones else "")

    year = "".join(_CN_DIGITS[int(c)] for c in str(day.year))
    return f"{year}年{small(day.month)}月{small(day.day)}日"
