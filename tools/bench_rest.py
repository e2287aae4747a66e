"""The REST start figure: ``POST /api/v1/cases`` through a real ``zhixing serve`` (gunicorn), beside the in-process
``start_per_s`` of ``tools/bench.py`` (which is handed this function by ``zhixing bench``; the engine never imports
the web).

One client on one kept-alive connection (``http.client``, loopback) files bench30 cases one after another, as the
in-process figure starts them, with an API token of the bench user; the figure is the median rate of the same
batches. What the difference costs is the HTTP layer: gunicorn's parsing, Flask's routing, the token check (two
indexed reads) and JSON in and out.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine import Engine

ZHIXING = Path(sys.executable).with_name("zhixing")
CASE = {"applicant": "甲公司", "debtor": {"name": "乙公司", "address": "成都市武侯区" * 10},
        "amount": 250000, "documents": [{"id": i, "title": f"文书 {i}", "note": "备注" * 20} for i in range(10)]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"zhixing serve did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)


def measure_rest_start(url: str, batches: int, batch: int, process_id: str = "bench30", court: str = "川0104",
                       user: str = "bench", echo=print) -> dict:
    """Start ``zhixing serve`` on ``url`` (a database with ``process_id`` deployed and ``user`` filing in
    ``court``), file ``batches`` × ``batch`` cases through the API; ``rest_start_per_s`` (median of batches)."""
    engine = Engine(url)
    try:
        secret = engine.tokens.create(user, "bench: REST start", "bench")[1]
    finally:
        engine.close()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="zhixing-rest-") as tmp:
        log = Path(tmp) / "serve.log"
        env = dict(os.environ, DATABASE_URL=url, ZHIXING_SECRET_KEY="bench", ZHIXING_VAR=tmp)
        with open(log, "w") as out:
            proc = subprocess.Popen([str(ZHIXING), "serve", "--port", str(port)], env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
        try:
            _wait_up(port, proc, log)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            n = 0

            def file_one() -> None:
                nonlocal n
                n += 1
                conn.request("POST", "/api/v1/cases", json.dumps(
                    {"process_id": process_id, "court": court, "case_no": f"（2026）{court}执{900000 + n}号",
                     "data": CASE}), headers)
                response = conn.getresponse()
                body = response.read()
                if response.status != 201:
                    raise RuntimeError(f"POST /api/v1/cases: HTTP {response.status}: {body[:300]!r}")
                if response.getheader("Connection", "").lower() == "close":
                    raise RuntimeError("the server closed the connection (no keep-alive)")

            for _ in range(10):                     # warm the worker (definition, expressions, pool)
                file_one()
            sock = conn.sock
            rates = []
            for _ in range(batches):
                t0 = time.perf_counter()
                for _ in range(batch):
                    file_one()
                rates.append(batch / (time.perf_counter() - t0))
            if conn.sock is not sock:
                raise RuntimeError("the connection was reopened during the run")
            conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        shape = next((line for line in log.read_text().splitlines() if "zhixing serving" in line), "")
    echo(f"  REST: one kept-alive connection, {shape.split(' with ', 1)[-1]}")
    return {"rest_start_per_s": statistics.median(rates)}
