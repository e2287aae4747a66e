"""Demo data for ``make run``: users of every role in one basic court, and cases at every stage of every procedure.

The cases are made by running the scenario files in ``tools/demo_cases/`` *into* the database (``zhixing simulate``'s
engine, on a virtual clock that starts ``DEMO_DAYS`` days ago): real cases through the real diagrams and handlers,
with their full event logs, left at the point where each file stops. The suite runs the same files
(``tests/web/test_demo.py``), so the demo never shows a state the engine could not reach. Dates that people type
into forms are written ``{{day+N}}`` (N days after the start), so they agree with the relative clock.

Idempotent: users are upserted, and the cases are loaded only into a database that has none yet.
"""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path

from werkzeug.security import generate_password_hash

from engine.legaltime.periods import COURT_TZ

DEMO_PASSWORD = "zhixing-demo"
COURT = "川0104"
DEMO_DAYS = 200                      # demo files advance their clock by less than this in total
CASES_DIR = Path(__file__).parent / "demo_cases"
BPMN = Path(__file__).resolve().parents[1] / "bpmn"
USERS = [
    ("lian", "立案庭 王书记员", ["filing_clerk", "clerk"]),
    ("zhihui", "指挥中心 刘", ["command_centre"]),
    ("chengban", "执行法官 李", ["implementation_officer", "judge_assistant"]),
    ("heyi", "合议庭 张法官", ["panel_member"]),
    ("yuanzhang", "院长 陈", ["president"]),
    ("shencha", "执行审查 赵法官", ["review_judge"]),
    ("jiandu", "执行局 监督 孙", ["supervisor"]),
    ("sheji", "流程设计 周", ["designer"]),
    ("admin", "系统管理员", ["admin"]),
]


def demo_start(now: datetime) -> datetime:
    """09:00 court time, ``DEMO_DAYS`` days before ``now``."""
    day = (now.astimezone(COURT_TZ) - timedelta(days=DEMO_DAYS)).date()
    return datetime.combine(day, time(9, 0), COURT_TZ)


def add_demo_users(engine) -> None:
    """The demo users, each with a hash (and salt) of its own: one shared hash would tell that they share a
    password, and one cracked hash would open every account."""
    for username, name, roles in USERS:
        engine.add_user(username, name, [(COURT, r) for r in roles], generate_password_hash(DEMO_PASSWORD))


def load_demo(engine, echo=None) -> list[str]:
    from tools.scenarios import run_scenario
    out = []
    add_demo_users(engine)
    out.append(f"{len(USERS)} demo users in court {COURT}, password '{DEMO_PASSWORD}'")
    engine.deploy([BPMN], actor="demo")
    if engine.executor.read(_has_cases):
        return out + ["cases: the database has cases already; none added"]
    start = demo_start(engine.clock.now())
    for path in sorted(CASES_DIR.glob("*.yaml")):
        text = demo_dates(path.read_text(encoding="utf-8"), start)
        result = run_scenario(text, path.parent, echo, file=str(path), database_url=engine.url, start=start)
        if not result.ok:
            raise RuntimeError(f"demo cases {path.name} did not load: {result.failures[0]}")
        out.append(f"{path.stem}: {result.summary}")
    return out


def demo_dates(text: str, start: datetime) -> str:
    """``{{day+N}}`` → the ISO date N days after ``start`` (the demo's clock starts at a different day each time)."""
    return re.sub(r"\{\{day\+(\d+)\}\}", lambda m: (start + timedelta(days=int(m[1]))).date().isoformat(), text)


def _has_cases(conn) -> bool:
    import sqlalchemy as sa

    from engine.store.tables import instances
    return conn.execute(sa.select(instances.c.id).limit(1)).first() is not None
