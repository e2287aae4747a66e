"""``zhixing demo``: the demo cases load through the real diagrams into a real database, once."""
from __future__ import annotations

import pytest

from engine import Engine
from web.demo import CASES_DIR, USERS, load_demo


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
