"""Load test: simulated officers working through tasks against ``gunicorn -w 4 web.wsgi:app`` plus one
``zhixing worker``, on PostgreSQL: ``python -m tools.bench_load --database URL [--officers 50] [--duration 300]``.

A fresh database on that server gets ``tests/bpmn/officer`` (登记 with a form → 执行 by someone else) and a court per
officer with cases: officer i files (登记) in court i and acts (执行) in court i+1, so no two officers race for one
task (that would be a conflict, not load).
Each officer is a thread with its own cookie session (``urllib``, loopback only): log in, then until the time is up:
list my tasks, open one, complete it with valid form data, open its case page. Between two requests an officer
reads the page for ``think`` seconds on average (uniform between half and one and a half times it, as load tools
model users; ``--think 0`` makes it a saturation test). Every request is timed; any answer other than the expected
one, or a failed connection, is an error.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from werkzeug.security import generate_password_hash

from engine import Engine
from tools.bench_scale import fresh_database

PASSWORD = "load-officer"
TARGET_P95_MS = 200.0
THINK_S = 2.0                 # an officer's mean time on a page before the next click
RECORD = {"debtor_name": "张某某", "amount": "50000", "confirmed": "true", "measures": "freeze", "note": "负载测试"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Officer(threading.Thread):
    """One officer's session: each request's time (ms) and every error are recorded."""

    def __init__(self, base: str, username: str, deadline: float, seed: int, think: float = THINK_S):
        super().__init__(daemon=True)
        self.base, self.username, self.deadline, self.think = base, username, deadline, think
        self.times: list[float] = []
        self.errors: list[str] = []
        self.completed = 0
        self.rng = random.Random(seed)
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect())

    def request(self, path: str, form: dict | None = None, expect: int = 200) -> str:
        data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
        t0 = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data, timeout=30) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode(errors="replace")
        self.times.append((time.perf_counter() - t0) * 1000)
        if status != expect:
            raise RuntimeError(f"{'POST' if form is not None else 'GET'} {path}: HTTP {status}, expected {expect}")
        if self.think:
            time.sleep(self.rng.uniform(0.5, 1.5) * self.think)
        return body

    @staticmethod
    def csrf(page: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def work_one(self) -> None:
        listing = self.request("/")
        tasks = re.findall(r'href="/tasks/([0-9a-f-]{36})"', listing)
        if not tasks:
            time.sleep(0.5)
            return
        task_id = self.rng.choice(tasks)
        page = self.request(f"/tasks/{task_id}")
        form = {"csrf_token": self.csrf(page), "action": "complete"}
        if 'name="debtor_name"' in page:
            form.update(RECORD)
        self.request(f"/tasks/{task_id}", form, expect=302)
        self.completed += 1
        case_no = re.search(r'href="/cases/([^"]+)"', page).group(1)
        self.request(f"/cases/{case_no}")

    def run(self) -> None:
        try:
            login = self.request("/login")
            self.request("/login", {"username": self.username, "password": PASSWORD, "csrf_token": self.csrf(login)},
                         expect=302)
        except Exception as exc:        # noqa: BLE001 (every failure is counted)
            self.errors.append(f"{self.username}: {exc}")
            return
        while time.monotonic() < self.deadline:
            try:
                self.work_one()
            except Exception as exc:    # noqa: BLE001
                self.errors.append(f"{self.username}: {exc}")


def prepare(url: str, officers: int, cases_each: int) -> None:
    """The officer procedure, a court and an officer per thread, and ``cases_each`` cases in each court."""
    engine = Engine(url)
    try:
        engine.init_schema()
        engine.deploy([Path(__file__).resolve().parent.parent / "tests" / "bpmn" / "officer"], actor="bench")
        password = generate_password_hash(PASSWORD)
        courts = [f"川{9000 + i}" for i in range(officers)]
        for i, court in enumerate(courts):
            engine.add_court(court, f"负载测试法院 {i}", "basic")
        for i, court in enumerate(courts):
            # 执行 may not be done by whoever did 登记 (excludeCompletersOf): the next officer does it
            engine.add_user(f"officer{i:02d}", f"执行员 {i}", [(court, "filing_clerk"),
                                                              (courts[(i + 1) % officers], "implementation_officer")],
                            password)
            for n in range(cases_each):
                engine.start("officer_case", f"（2026）{court}执{n + 1}号", court,
                             {"applicant_name": "某银行", "debtor_name": "张某", "amount": 50000}, actor="bench")
    finally:
        engine.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/login", timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer at {base} in {timeout} s")


def run_load(server_url: str, officers: int = 50, duration: float = 300, web_workers: int = 4,
             cases_each: int | None = None, think: float = THINK_S, echo=print) -> dict:
    """Prepare a fresh database, start gunicorn and one worker on loopback, run the officers; the figures."""
    name = f"zhixing_bench_load_{os.getpid()}"
    url = fresh_database(server_url, name)
    try:
        return _run(url, officers, duration, web_workers, cases_each, think, echo)
    finally:
        fresh_database(server_url, name, create=False)


def _run(url: str, officers: int, duration: float, web_workers: int, cases_each: int | None, think: float,
         echo) -> dict:
    cases_each = cases_each or max(5, int(duration // 2))       # more than 50 officers finish in the time
    t0 = time.perf_counter()
    prepare(url, officers, cases_each)
    echo(f"  {officers} officers, {officers * cases_each:,} cases prepared in {time.perf_counter() - t0:.0f} s")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    bin_dir = os.path.dirname(sys.executable)
    with tempfile.TemporaryDirectory(prefix="zhixing-load-") as tmp, open(f"{tmp}/gunicorn.log", "w") as log_file:
        env = dict(os.environ, DATABASE_URL=url, ZHIXING_SECRET_KEY="load-test",
                   ZHIXING_SANDBOX_DIR=f"{tmp}/sandbox", ZHIXING_DOCUMENT_DIR=f"{tmp}/documents")
        root = Path(__file__).resolve().parent.parent
        procs = [subprocess.Popen([os.path.join(bin_dir, "gunicorn"), "-w", str(web_workers), "-b",
                                   f"127.0.0.1:{port}", "--log-level", "warning", "web.wsgi:app"], env=env, cwd=root,
                                  stdout=subprocess.DEVNULL, stderr=log_file),
                 subprocess.Popen([os.path.join(bin_dir, "zhixing"), "worker"], env=env, cwd=root,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        try:
            _wait_up(base)
            load_before = os.getloadavg()[0]
            deadline = time.monotonic() + duration
            threads = [Officer(base, f"officer{i:02d}", deadline, i, think) for i in range(officers)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(duration + 60)
            elapsed = time.perf_counter() - started
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=30)
            log = Path(f"{tmp}/gunicorn.log").read_text()
    times = sorted(t for th in threads for t in th.times)
    errors = [e for th in threads for e in th.errors]
    for line in errors[:10]:
        echo(f"  error: {line}")
    if errors and log.strip():
        echo("  gunicorn log (end):\n" + log[-2000:])
    return {"load_requests": float(len(times)), "load_errors": float(len(errors)),
            "load_completed": float(sum(th.completed for th in threads)),
            "load_requests_per_s": len(times) / elapsed,
            "load_p50_ms": times[len(times) // 2] if times else 0.0,
            "load_p95_ms": times[round(0.95 * (len(times) - 1))] if times else 0.0,
            "load_average_1min": load_before, "load_think_s": think}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a PostgreSQL URL (a fresh database is made on it)")
    parser.add_argument("--officers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=300, help="seconds")
    parser.add_argument("--think", type=float, default=THINK_S, help="an officer's mean seconds on a page (0: none)")
    args = parser.parse_args(argv)
    figures = run_load(args.database, args.officers, args.duration, think=args.think)
    for name, value in figures.items():
        print(f"{name:<22} {value:12,.1f}")
    ok = figures["load_errors"] == 0 and figures["load_p95_ms"] < TARGET_P95_MS
    print(f"target: zero errors and p95 < {TARGET_P95_MS:.0f} ms: {'pass' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
