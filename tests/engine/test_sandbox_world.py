"""The sandboxes' memory belongs to the database it serves: a fresh database meets a fresh world.

Before, the sandboxes kept one memory for every database under ``ZHIXING_SANDBOX_DIR``: after ``rm var/zhixing.db``
the demo's flat was already auctioned in the sandbox, and ``make run`` failed on its own demo."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from engine import Engine
from engine.store.tables import database_identity
from handlers.base import HandlerContext
from handlers.sandbox_store import FILE_NAME, SandboxStore
from tools.demo import CASES_DIR, demo_dates, demo_start
from tools.scenarios import run_scenario

REALISATION = CASES_DIR / "30_realisation.yaml"


def _identity(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(sa.select(database_identity.c.id)).scalars().all()
    engine.dispose()
    assert len(found) == 1
    return found[0]


def _load_realisation(url: str, engine: Engine) -> None:
    start = demo_start(engine.clock.now())
    result = run_scenario(demo_dates(REALISATION.read_text(encoding="utf-8"), start), CASES_DIR,
                          file=str(REALISATION), database_url=url, start=start)
    assert result.ok, result.failures


def test_a_database_made_again_at_the_same_place_meets_fresh_sandboxes(tmp_path, monkeypatch):
    sandbox = tmp_path / "sandbox"
    monkeypatch.setenv("ZHIXING_SANDBOX_DIR", str(sandbox))          # shared by both databases, as var/sandbox is
    monkeypatch.setenv("ZHIXING_DOCUMENT_DIR", str(tmp_path / "documents"))
    db = tmp_path / "zhixing.db"
    url = f"sqlite:///{db}"
    worlds = []
    for _ in range(2):                                                  # rm var/zhixing.db*; make run — twice
        for leftover in tmp_path.glob("zhixing.db*"):
            leftover.unlink()
        engine = Engine(url)
        engine.init_schema()
        worlds.append(_identity(url))
        _load_realisation(url, engine)                                  # sells the one flat of the sandbox
        engine.close()
        assert (sandbox / worlds[-1] / FILE_NAME).is_file()
    assert worlds[0] != worlds[1]
    assert not (sandbox / FILE_NAME).exists()                           # nothing in the shared, unkeyed place


def test_the_store_keeps_each_databases_records_apart(tmp_path):
    store = SandboxStore("ledger", tmp_path)

    def ctx(database_id):
        return HandlerContext("svc:1:t", 1, None, None, datetime(2026, 3, 2, tzinfo=UTC), 1, database_id)

    def put(rec):
        rec.put("account", "A", {"n": 1})
        return {}
    store.once(ctx("aaaa"), "open", {}, put)
    assert store.read(lambda rec: rec.get("account", "A"), ctx("aaaa")) == {"n": 1}
    assert store.read(lambda rec: rec.get("account", "A"), ctx("bbbb")) is None
    assert store.read(lambda rec: rec.get("account", "A")) is None      # no identity: the folder itself
    assert store.path(ctx("aaaa")) == tmp_path / "aaaa" / FILE_NAME

