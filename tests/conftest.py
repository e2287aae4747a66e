"""Shared fixtures: a real SQLite file per test (copied from a migrated template), or a fresh PostgreSQL
database when ``ZHIXING_TEST_POSTGRES`` points at a server (``make test`` starts one), a virtual clock, and a
handler registry of test handlers."""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import Engine, VirtualClock
from engine.store.database import upgrade
from handlers.base import BusinessRejection, Retryable
from handlers.registry import HandlerSpec, Registry

from testpaths import ENGINE_BPMN  # noqa: E402  (re-exported for fixtures below)

PG_URL = os.environ.get("ZHIXING_TEST_POSTGRES")   # e.g. postgresql+psycopg://postgres@127.0.0.1:54329/postgres
MONDAY_9AM_BEIJING = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "zhixing.db"
    engine = Engine(f"sqlite:///{path}", registry=Registry())
    engine.init_schema()
    engine.close()
    return path


def _fresh_postgres_url() -> str:
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"zx_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, template_db) -> str:
    if request.param == "sqlite":
        path = tmp_path / "zhixing.db"
        shutil.copy(template_db, path)
        yield f"sqlite:///{path}"
        return
    if not PG_URL:
        pytest.skip("ZHIXING_TEST_POSTGRES is not set (make test starts a PostgreSQL server and sets it)")
    url = _fresh_postgres_url()
    upgrade(url)
    yield url
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {sa.engine.make_url(url).database} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(MONDAY_9AM_BEIJING)


class HandlerLog:
    """Test handlers: ``test.notify`` records its calls and fails while ``failures`` > 0."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.failures = 0
        self.reject = False

    def notify(self, ctx, recipient, amount=0):
        self.calls.append((ctx.idempotency_key, {"recipient": recipient, "amount": amount}))
        if self.reject:
            raise BusinessRejection("recipient refused", {"field": "recipient"})
        if self.failures > 0:
            self.failures -= 1
            raise Retryable("notification gateway timed out")
        return {"sent_to": recipient, "attempt": ctx.attempt}


@pytest.fixture
def handler_log() -> HandlerLog:
    return HandlerLog()


@pytest.fixture
def registry(handler_log) -> Registry:
    reg = Registry()
    reg.register(HandlerSpec("test.notify", handler_log.notify, ("recipient",), ("amount",)))
    return reg


@pytest.fixture
def engine(db_url, clock, registry):
    eng = Engine(db_url, clock=clock, registry=registry)
    if db_url.startswith("postgresql"):
        eng.init_schema()
    eng.add_user("clerk", "立案 王", [("J0104", "filing_clerk")])
    eng.add_user("officer", "执行 李", [("J0104", "implementation_officer"), ("J0104", "panel_member")])
    eng.add_user("panel", "合议庭 张", [("J0104", "panel_member")])
    eng.add_user("judge", "审查 赵", [("J0104", "review_judge")])
    eng.add_user("outsider", "外院 钱", [("J9999", "implementation_officer")])
    yield eng
    eng.close()


@pytest.fixture
def deployed(engine):
    engine.deploy([ENGINE_BPMN])
    return engine
