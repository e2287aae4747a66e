"""Courts (法院), their per-court settings, and case numbers (案号).

Case numbers follow 法〔2015〕137号: "（" + year + "）" + court code + type code + serial + "号", e.g.
（2026）川0104执123号. Serials run per court, per type code, per year. The court code is the province
abbreviation alone (high court, 川), plus 2 digits (intermediate court, 川01) or 4 digits (basic court, 川0104).

Settings hold the local-practice values [P] of the domain spec, which differ between courts; diagrams read them
from the case data (``court_settings``), copied when the case starts so a case keeps the rules it began under.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine.errors import InvalidInput, NotFound
from engine.store.tables import case_counters, courts

CASE_TYPES = {
    "执": "first enforcement (首次执行)",
    "执恢": "restored enforcement (恢复执行)",
    "执保": "execution of preservation (财产保全执行)",
    "执异": "objection review (执行异议)",
    "执复": "review at the higher court (执行复议)",
    "执监": "enforcement supervision (执行监督)",
    "执协": "coordination (执行协调)",
    "执他": "other enforcement matters (其他执行)",
    "破申": "bankruptcy application review (破产申请审查)",
}
LEVELS = ("basic", "intermediate", "high", "supreme")
COURT_CODE = re.compile(r"^[\u4e00-\u9fff]{1,3}(\d{2}|\d{4})?$")
CASE_NUMBER = re.compile(r"^（(\d{4})）([\u4e00-\u9fff]{1,3}(?:\d{4}|\d{2})?)(" +
                         "|".join(sorted(CASE_TYPES, key=len, reverse=True)) + r")(\d+)号$")

# local practice [P] (domain spec §2.2, §4.3, §4.4): per-court overrides of these
DEFAULT_SETTINGS: dict = {
    "fast_track_threshold": 100000,            # 繁简分流: claims up to this (CNY) may take the fast track
    "response_hours": {                         # 指挥中心 response times (seed 003)
        "assets_proven_in_district": 24, "debtor_located": 2, "new_assets_in_suspended_case": 0, "urgent": 0},
    "no_closing_warning": "P3M",                # warn when a case is not closed after 3 months
    "deadline_reminder": "P7D",                 # remind one week before a deadline
    "idle_node_days": 30,                       # 反消极执行: a node idle this long is flagged
    "start_within_days": 5,                     # notice and asset search started within 5 days of filing
    "closing_rate_excludes": ["执恢", "执保"],  # 执结率: case types left out (Inner Mongolia formula, spec §7)
}


@dataclass(frozen=True)
class Court:
    code: str
    name: str
    level: str
    parent_code: str | None
    settings: dict


def merged_settings(overrides: dict | None) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_SETTINGS.items()}
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def upsert_court(conn: sa.Connection, code: str, name: str, level: str, parent_code: str | None = None,
                 settings: dict | None = None) -> Court:
    if not COURT_CODE.match(code or ""):
        raise InvalidInput(f"court code '{code}' is not like 川, 川01 or 川0104", {"code": "format"})
    if level not in LEVELS:
        raise InvalidInput(f"court level must be one of {', '.join(LEVELS)}", {"level": "unknown"})
    unknown = sorted(set(settings or {}) - set(DEFAULT_SETTINGS))
    if unknown:
        raise InvalidInput(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_SETTINGS)}",
                           {"settings": "unknown"})
    if parent_code and conn.execute(sa.select(courts.c.code).where(courts.c.code == parent_code)).first() is None:
        raise InvalidInput(f"parent court '{parent_code}' is not registered", {"parent_code": "unknown"})
    values = dict(name=name, level=level, parent_code=parent_code, settings=settings or {})
    if conn.execute(courts.update().where(courts.c.code == code).values(**values)).rowcount == 0:
        conn.execute(courts.insert().values(code=code, **values))
    return get_court(conn, code)


def get_court(conn: sa.Connection, code: str) -> Court:
    row = conn.execute(sa.select(courts).where(courts.c.code == code)).first()
    if row is None:
        raise NotFound(f"court '{code}' is not registered")
    return Court(row.code, row.name, row.level, row.parent_code, merged_settings(row.settings))


def settings_for(conn: sa.Connection, code: str) -> dict:
    """The court's settings; an unregistered court gets the defaults."""
    overrides = conn.execute(sa.select(courts.c.settings).where(courts.c.code == code)).scalar()
    return merged_settings(overrides)


def format_case_number(year: int, court_code: str, case_type: str, serial: int) -> str:
    return f"（{year}）{court_code}{case_type}{serial}号"


def parse_case_number(text: str) -> tuple[int, str, str, int]:
    """(year, court code, type code, serial); raises ``InvalidInput`` if the text is not a case number."""
    match = CASE_NUMBER.match(text or "")
    if not match:
        raise InvalidInput(f"'{text}' is not a case number like （2026）川0104执123号", {"case_no": "format"})
    year, court, case_type, serial = match.groups()
    return int(year), court, case_type, int(serial)


def next_case_number(conn: sa.Connection, court_code: str, case_type: str, now: datetime) -> str:
    """Allocate the next serial of this court, type and year (in the caller's transaction)."""
    if case_type not in CASE_TYPES:
        raise InvalidInput(f"unknown case type '{case_type}'; known: {', '.join(CASE_TYPES)}")
    if not COURT_CODE.match(court_code or ""):
        raise InvalidInput(f"court code '{court_code}' cannot appear in a case number (like 川0104)")
    from engine.legaltime.periods import COURT_TZ
    year = now.astimezone(COURT_TZ).year
    key = (case_counters.c.court == court_code, case_counters.c.year == year, case_counters.c.case_type == case_type)
    for _ in range(3):
        if conn.execute(case_counters.update().where(*key)
                        .values(last_serial=case_counters.c.last_serial + 1)).rowcount:
            serial = conn.execute(sa.select(case_counters.c.last_serial).where(*key)).scalar_one()
            return format_case_number(year, court_code, case_type, serial)
        try:
            with conn.begin_nested():
                conn.execute(case_counters.insert().values(court=court_code, year=year, case_type=case_type,
                                                           last_serial=1))
            return format_case_number(year, court_code, case_type, 1)
        except IntegrityError:      # another transaction created the counter first: increment it instead
            continue
    raise InvalidInput(f"could not allocate a case number for {court_code} {case_type} {year}; try again")
