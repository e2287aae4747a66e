"""``zhixing demo``: the demo cases load through the real diagrams into a real database, once."""
from __future__ import annotations

import pytest

from engine import Engine
from tools.demo import CASES_DIR, USERS, load_demo


@pytest.fixture
def demo_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHIXING_SANDBOX_DIR", str(tmp_path / "sandbox"))
    monkeypatch.setenv("ZHIXING_DOCUMENT_DIR", str(tmp_path / "documents"))
    engine = Engine(f"sqlite:///{tmp_path / 'demo.db'}")
    engine.init_schema()
    yield engine
    engine.close()


def test_demo_loads_every_file_once(demo_engine):
    lines = load_demo(demo_engine)
    files = sorted(p.stem for p in CASES_DIR.glob("*.yaml"))
    assert [line.split(":")[0] for line in lines[1:]] == files
    assert all("steps passed" in line for line in lines[1:])
    again = load_demo(demo_engine)
    assert again[-1] == "cases: the database has cases already; none added"
    assert all(demo_engine.roles_of(username) for username, *_ in USERS)
    assert all(r.ok for r in demo_engine.verify_audit())


def _loaded(engine):
    """Each instance's process, status, stage, and the processes running as called subprocesses inside it."""
    import json
    import zlib

    import sqlalchemy as sa

    from engine.store.tables import definitions, instances
    with engine.db.begin() as conn:
        deployed = set(conn.execute(sa.select(definitions.c.process_id)).scalars())
        rows = conn.execute(sa.select(instances.c.process_id, instances.c.status, instances.c.stage,
                                      instances.c.state)).all()
    called = {sub.get("spec") for r in rows
              for sub in (json.loads(zlib.decompress(r.state)).get("subprocesses") or {}).values()}
    return deployed, rows, called


def test_demo_has_cases_of_every_procedure_in_every_stage(demo_engine):
    load_demo(demo_engine)
    deployed, rows, called = _loaded(demo_engine)
    # every procedure of bpmn/ has instances, or runs called from one (the listing in force, 在册)
    assert deployed == {r.process_id for r in rows} | {"credit_blacklist_in_force"}
    assert {"realisation", "credit_blacklist_in_force"} <= called
    waiting = {r.stage for r in rows if r.process_id == "enforcement_case" and r.status == "running"}
    assert {"filing", "start", "control", "realisation", "payout", "closing", "suspended"} <= waiting
    closed = [r for r in rows if r.process_id == "enforcement_case" and r.stage == "closed"]
    assert len([r for r in closed if r.status == "completed"]) >= 3
    assert all(len([r for r in rows if r.process_id == p and r.status == "running"]) >= 3
               for p in ("realisation", "objection_review", "no_asset_exit", "bankruptcy_transfer", "credit_blacklist"))
    _pages_name_the_stages(demo_engine)


def _pages_name_the_stages(engine):
    """Officers and supervisors read the stage names (财产查控), not the codes the diagrams keep (control)."""
    import re

    from tools.demo import DEMO_PASSWORD
    from web import create_app
    client = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "test"}).test_client()

    def login(username):
        client.get("/logout")
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
        assert client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                           "csrf_token": token}).status_code == 302

    login("chengban")
    tasks = client.get("/").get_data(as_text=True)
    assert "财产查控" in tasks and "案款发放" in tasks and "<td>control</td>" not in tasks
    login("jiandu")
    listed = client.get("/supervise/instances?process=enforcement_case").get_data(as_text=True)
    assert "执行启动" in listed and "<td>start</td>" not in listed and 'value="start"' in listed
