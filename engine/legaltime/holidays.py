"""The holiday table (节假日安排) in the store: seeded from chinese-calendar, extended by an admin each year.

chinese-calendar only knows the years it shipped with; deadlines in later years fall back to weekends-only and
are marked provisional until ``add_year`` stores that year's State Council schedule.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from engine.legaltime.periods import HolidayCalendar, package_rows
from engine.store.tables import holiday_years, holidays


def load(conn: sa.Connection) -> HolidayCalendar:
    days = {row.day: row.is_off for row in conn.execute(sa.select(holidays.c.day, holidays.c.is_off))}
    years = conn.execute(sa.select(holiday_years.c.year)).scalars().all()
    return HolidayCalendar(days, years)


def seed_from_package(conn: sa.Connection, now: datetime | None = None) -> list[int]:
    """Store every year the installed chinese-calendar knows that the table lacks; return the years added."""
    rows = package_rows()
    by_year: dict[int, list] = {}
    for day, is_off, name in rows:
        by_year.setdefault(day.year, []).append((day, is_off, name))
    have = set(conn.execute(sa.select(holiday_years.c.year)).scalars())
    added = []
    for year in sorted(set(by_year) - have):
        add_year(conn, year, by_year[year], "chinese-calendar", now)
        added.append(year)
    return added


def add_year(conn: sa.Connection, year: int, rows: list[tuple[date, bool, str]], source: str,
             now: datetime | None = None) -> None:
    """Replace one year's table (days off and adjusted working days)."""
    if any(day.year != year for day, _off, _name in rows):
        raise ValueError(f"every date must be in {year}")
    conn.execute(holidays.delete().where(holidays.c.day.between(date(year, 1, 1), date(year, 12, 31))))
    if rows:
        conn.execute(holidays.insert(), [dict(day=d, is_off=off, name=name[:64]) for d, off, name in rows])
    conn.execute(holiday_years.delete().where(holiday_years.c.year == year))
    conn.execute(holiday_years.insert().values(year=year, source=source,
                                               loaded_at=now or datetime.now(UTC)))
