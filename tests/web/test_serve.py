"""``zhixing serve`` as an operator runs it: a real ``zhixing serve`` process (gunicorn) on loopback over a real
SQLite file or a PostgreSQL database; keep-alive; and a graceful stop on SIGTERM that lets a running request and a
running job finish."""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC
from pathlib import Path

import pytest

from engine import Engine

ZHIXING = Path(sys.executable).with_name("zhixing")
COURT = "J0104"

# short_wait: start → a 2-second timer → a user task of the filing clerk; wake_up: the same with a timer at wake_at
DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="short_wait" name="短等待" isExecutable="true">
<bpmn:laneSet id="ls"><bpmn:lane id="l" name="filing_clerk"><bpmn:flowNodeRef>after</bpmn:flowNodeRef></bpmn:lane>
</bpmn:laneSet>
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="wait" name="等两秒">
<bpmn:timerEventDefinition><bpmn:timeDuration>"PT2S"</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:userTask id="after" name="之后"/>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>
</bpmn:process>
<bpmn:process id="wake_up" name="定时唤醒" isExecutable="true">
<bpmn:laneSet id="ls2"><bpmn:lane id="l2" name="filing_clerk"><bpmn:flowNodeRef>woken</bpmn:flowNodeRef></bpmn:lane>
</bpmn:laneSet>
<bpmn:startEvent id="start2"/>
<bpmn:intermediateCatchEvent id="until">
<bpmn:timerEventDefinition><bpmn:timeDate>wake_at</bpmn:timeDate></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:userTask id="woken" name="已唤醒"/>
<bpmn:endEvent id="end2"/>
<bpmn:sequenceFlow id="g1" sourceRef="start2" targetRef="until"/>
<bpmn:sequenceFlow id="g2" sourceRef="until" targetRef="woken"/>
<bpmn:sequenceFlow id="g3" sourceRef="woken" targetRef="end2"/>
</bpmn:process>
</bpmn:definitions>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A ``zhixing serve`` child process; its log (gunicorn's) in ``log_path``."""

    def __init__(self, url: str, tmp: Path, *args: str):
        self.port = free_port()
        self.log_path = tmp / f"serve-{self.port}.log"
        env = dict(os.environ, DATABASE_URL=url, ZHIXING_VAR=str(tmp / "var"), ZHIXING_SANDBOX_DIR=str(tmp / "sb"),
                   ZHIXING_DOCUMENT_DIR=str(tmp / "documents"))
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([str(ZHIXING), "serve", "--port", str(self.port), *args], env=env,
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"zhixing serve did not start:\n{self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text()

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=40)


def request(conn, method: str, path: str, token: str | None = None, body: dict | None = None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    return response, response.read()


@pytest.fixture
def prepared(db_url):
    """The store with the 2-second diagram, a filing clerk and an API token for them."""
    engine = Engine(db_url)
    try:
        if db_url.startswith("postgresql"):
            engine.init_schema()
        engine.add_user("clerk", "立案 王", [(COURT, "filing_clerk")])
        engine.deploy({"short_wait.bpmn": DIAGRAM.encode()}, actor="test")
        secret = engine.tokens.create("clerk", "serve test", "admin")[1]
    finally:
        engine.close()
    return db_url, secret


def file_case(conn, token: str, case_no: str) -> dict:
    response, body = request(conn, "POST", "/api/v1/cases", token,
                             {"process_id": "short_wait", "court": COURT, "case_no": case_no})
    assert response.status == 201, body
    return json.loads(body)


def sqlite_only(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's serving shape")


def test_serve_runs_gunicorn_and_keeps_the_connection_alive(prepared, tmp_path):
    db_url, token = prepared
    sqlite_only(db_url)
    served = Served(db_url, tmp_path)
    try:
        conn = served.connection()
        first, _ = request(conn, "GET", "/healthz")
        sock, local = conn.sock, conn.sock.getsockname()
        second, body = request(conn, "POST", "/api/v1/cases", token,
                               {"process_id": "short_wait", "court": COURT, "case_no": "（2026）J0104执1号"})
        assert (first.status, second.status) == (200, 201), body
        assert conn.sock is sock and conn.sock.getsockname() == local, "the server closed the connection"
        assert first.getheader("Connection", "").lower() != "close"
        assert first.getheader("Server") == "gunicorn"          # not Werkzeug's development server
        conn.close()
    finally:
        served.stop()
    log = served.log()
    assert "Using worker: gthread" in log and "1 process(es) × 8 threads" in log
    assert len(re.findall(r"Booting worker with pid", log)) == 1
    assert "development server" not in log
    assert served.proc.returncode == 0


def test_sigterm_lets_a_running_request_finish(prepared, tmp_path):
    db_url, token = prepared
    sqlite_only(db_url)
    served = Served(db_url, tmp_path)
    try:
        # Hold SQLite's write lock: the filing below waits for it (the busy timeout), a request that takes a while
        lock = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        answers: list = []

        def file_slowly():
            conn = served.connection()
            answers.append(request(conn, "POST", "/api/v1/cases", token,
                                   {"process_id": "short_wait", "court": COURT, "case_no": "（2026）J0104执2号"}))
            conn.close()

        slow = threading.Thread(target=file_slowly)
        slow.start()
        time.sleep(1.0)
        served.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert served.proc.poll() is None, "the server stopped with a request running"
        assert not answers
        lock.rollback()
        lock.close()
        slow.join(30)
        served.proc.wait(timeout=40)
    finally:
        served.stop()
    [(response, body)] = answers
    assert response.status == 201, body
    assert served.proc.returncode == 0 and "scheduler stopped" in served.log()
    engine = Engine(db_url)
    try:
        assert engine.instance(json.loads(body)["id"]).case_no == "（2026）J0104执2号"
    finally:
        engine.close()


def test_sigterm_while_timers_fire_leaves_no_job_half_done(prepared, tmp_path):
    """SIGTERM in the middle of firing 300 due timers: the process finishes the batch it leased before it exits,
    so no job stays leased (a killed process leaves its leases until they run out); every timer fired once or
    still waits."""
    from datetime import datetime, timedelta

    import sqlalchemy as sa

    from engine.store.tables import events, jobs
    db_url, _token = prepared
    sqlite_only(db_url)
    count = 300
    served = Served(db_url, tmp_path)
    engine = Engine(db_url)
    try:
        wake_at = (datetime.now(UTC) + timedelta(seconds=2 + 0.01 * count)).isoformat()
        for n in range(count):
            engine.start("wake_up", f"W-{n}", COURT, {"wake_at": wake_at})
        assert len(engine.job_list(kind="timer")) == count, "cases started too slowly: their timers were due"

        def fired() -> int:
            with engine.db.connect() as conn:
                return conn.execute(sa.select(sa.func.count()).select_from(events)
                                    .where(events.c.action == "timer_fired")).scalar()

        deadline = time.monotonic() + 60
        while fired() == 0:
            assert time.monotonic() < deadline, "no timer fired"
            time.sleep(0.01)
        served.proc.send_signal(signal.SIGTERM)
        served.proc.wait(timeout=40)
        with engine.db.connect() as conn:
            left = conn.execute(sa.select(jobs.c.status, jobs.c.locked_by)).all()
        done = fired()
        assert served.proc.returncode == 0 and "scheduler stopped" in served.log()
        assert {tuple(row) for row in left} <= {("ready", None)}, "a job was left leased"
        assert done + len(left) == count and done > 0
        assert all(report.ok for report in engine.verify_audit())
    finally:
        engine.close()
        served.stop()


def test_postgresql_is_served_by_processes(prepared, tmp_path):
    db_url, token = prepared
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's serving shape")
    served = Served(db_url, tmp_path, "--workers", "2", "--threads", "2")
    try:
        deadline = time.monotonic() + 30
        while len(re.findall(r"Booting worker with pid", served.log())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        conn = served.connection()
        for n in range(1, 5):
            assert file_case(conn, token, f"（2026）J0104执{n}号")["court"] == COURT
        conn.close()
    finally:
        served.stop()
    log = served.log()
    assert "2 process(es) × 2 threads" in log and len(re.findall(r"Booting worker with pid", log)) == 2
    assert log.count("scheduler stopped") == 2 and served.proc.returncode == 0


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(ZHIXING), *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})))


def test_sqlite_refuses_several_processes_and_a_taken_port_in_one_line(tmp_path, template_db):
    path = tmp_path / "z.db"
    shutil.copy(template_db, path)
    env = {"DATABASE_URL": f"sqlite:///{path}", "ZHIXING_VAR": str(tmp_path / "var")}
    several = run_cli("serve", "--workers", "2", env=env)
    assert several.returncode == 1 and "one writer at a time" in several.stderr
    assert "Traceback" not in several.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = run_cli("serve", "--port", str(taken.getsockname()[1]), env=env)
    assert busy.returncode == 1 and "cannot listen on 127.0.0.1" in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1
