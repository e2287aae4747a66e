"""``zhixing demo`` loads whatever the date: its clock starts ``DEMO_DAYS`` before today, so its legal periods meet
different holidays each day. A period that ends in a long holiday is extended past it (CPL Art. 85), and once the
demo files waited too little for that (``make run`` failed in the weeks before Spring Festival and National Day),
and a 执异 case filed after New Year got the new year's number. Each date loads the whole demo, for real."""
from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from engine import Engine, VirtualClock
from engine.legaltime.periods import COURT_TZ
from engine.store.tables import events
from tools.demo import CASES_DIR, DEMO_DAYS, demo_start, load_demo

STARTS = [                     # the demo clock's first day
    "2025-09-24",              # the week before National Day 2025 (10-01 … 10-08)
    "2025-11-24",
    "2025-12-29",              # over New Year
    "2026-01-19",
    "2026-02-09",              # the week before Spring Festival 2026 (02-15 … 02-23)
    "2026-02-12",
    "2026-03-23",
    "2026-04-27",              # before Labour Day
    "2026-05-23",              # a Saturday
    "2026-06-15",              # before the Dragon Boat Festival
    "2026-09-24",              # the week before National Day 2026 (10-01 … 10-07)
    "2026-09-28",
    "2027-01-29",              # the week before Spring Festival 2027, whose holidays are not published yet
]


@pytest.mark.parametrize("first_day", STARTS)
def test_the_demo_loads_when_its_clock_starts_on(first_day, tmp_path, monkeypatch, template_db):
    monkeypatch.setenv("ZHIXING_SANDBOX_DIR", str(tmp_path / "sandbox"))
    monkeypatch.setenv("ZHIXING_DOCUMENT_DIR", str(tmp_path / "documents"))
    start = datetime.combine(date.fromisoformat(first_day), time(9, 0), COURT_TZ)
    now = start + timedelta(days=DEMO_DAYS, hours=5)                  # today, at 14:00
    shutil.copy(template_db, tmp_path / "demo.db")
    engine = Engine(f"sqlite:///{tmp_path / 'demo.db'}", clock=VirtualClock(now))
    try:
        assert demo_start(engine.clock.now()) == start
        lines = load_demo(engine)                                      # raises at the first file that fails
        assert [line.split(":")[0] for line in lines[1:]] == sorted(p.stem for p in CASES_DIR.glob("*.yaml"))
        with engine.db.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(events.c.at))).scalar()
        assert last <= now                                             # nothing in the future
        assert all(r.ok for r in engine.verify_audit())
    finally:
        engine.close()
