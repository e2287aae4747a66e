"""PostgreSQL goes away and comes back: pages answer 503 with a message meanwhile (never a trace), the scheduler's
tick logs and carries on, and both resume by themselves once the database is back."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from engine import Engine
from engine.background.scheduler import _tick
from web import create_app

from support.tcp_proxy import TcpProxy
from testpaths import ENGINE_BPMN


@pytest.fixture
def proxied(db_url, clock, registry):
    if not db_url.startswith("postgresql"):
        pytest.skip("a server that goes away: PostgreSQL only")
    url = sa.engine.make_url(db_url)
    proxy = TcpProxy(url.host, url.port)
    engine = Engine(url.set(port=proxy.port).render_as_string(hide_password=False), clock=clock, registry=registry)
    engine.init_schema()
    yield engine, proxy
    proxy.close()
    engine.close()


def login(client) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "clerk", "password": "pw", "csrf_token": token}).status_code == 302


def test_pages_and_workers_resume_after_the_database_comes_back(proxied, clock, caplog):
    engine, proxy = proxied
    engine.deploy([ENGINE_BPMN])
    engine.add_user("clerk", "立案 王", [("J0104", "filing_clerk")], generate_password_hash("pw"))
    view = engine.start("case_flow", "（2026）J0104执9号", "J0104", {"applicant": "甲"}, actor="clerk")
    client = create_app({"ENGINE": engine, "TESTING": True, "SECRET_KEY": "outage"}).test_client()
    login(client)
    assert client.get("/").status_code == 200

    proxy.cut()
    down = client.get("/")
    assert down.status_code == 503
    assert "数据库暂时不可用" in down.get_data(as_text=True) and "Traceback" not in down.get_data(as_text=True)
    _tick(engine)                                           # logs and returns instead of raising
    assert "tick failed" in caplog.text

    proxy.restore()
    assert client.get("/").status_code == 200              # the pool reconnects by itself
    engine.complete_task(engine.tasks(instance_id=view.id)[0].task_id, "clerk", {"debtor": "乙公司", "amount": 250000})
    assert engine.instance(view.id).status in ("running", "completed")
    _tick(engine)                                           # the scheduler's next tick works again
