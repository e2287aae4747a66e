"""Server time of the web pages with 10,000 cases: ``python -m tools.bench_pages [--cases N] [--runs N]``.

A throw-away SQLite file gets the real procedures (``bpmn/``) and the demo cases (``tools/demo.py``), run by the
engine; those cases are then copied by plain SQL into 10,000 (the engine's own tables: instances with their
stored workflows, open tasks, jobs, subscriptions and a valid hash-chained execution log), spread over a year, two
courts and twenty officers, so lists, filters and aggregates see realistic rows. Each page of ``PAGES`` is then
requested with the Flask test client (server time: routing, queries and templates, no network) and its p50 and
p95 printed against the 100 ms target.

Areas add their pages to ``PAGES``; a URL may use the placeholders of ``Sample`` (a running case, its court, an
open task, a procedure).
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from engine import Engine
from engine.court.roles import ROLES
from engine.kernel.audit import GENESIS, event_row
from engine.store.tables import events, human_tasks, instances, jobs, subscriptions

TARGET_MS = 100.0
COURT, OTHER_COURT, PARENT_COURT = "川0104", "川0105", "川01"
USER, PASSWORD = "bench", "bench-pages"
OFFICERS = [f"officer{i:02d}" for i in range(20)]

# (area, page, URL): every main page of every area
PAGES = [
    ("officer", "my tasks", "/"),
    ("officer", "my tasks: overdue, newest first", "/?overdue=1&sort=created"),
    ("officer", "my tasks: team scope, page 3", "/?scope=team&page=3"),
    ("officer", "my tasks: case number, unclaimed", "/?case_no=执77&claim=unclaimed"),
    ("officer", "task page", "/tasks/{task_id}"),
    ("officer", "cases", "/cases"),
    ("officer", "cases: party search, page 2", "/cases?q=某&page=2"),
    ("officer", "case page", "/cases/{case_no}"),
    ("supervisor", "dashboard", "/supervise/"),
    ("supervisor", "instances", "/supervise/instances"),
    ("supervisor", "instances: overdue", "/supervise/instances?overdue=1"),
    ("supervisor", "instances: idle beyond limit", "/supervise/instances?idle=limit"),
    ("supervisor", "instances: team + officer", "/supervise/instances?team=implementation_officer&officer=officer07"),
    ("supervisor", "instances: incident, last page", "/supervise/instances?incident=1&page=999"),
    ("supervisor", "instances: case number", "/supervise/instances?q=执77"),
    ("supervisor", "instances: with subordinate courts", "/supervise/instances?sub=1&status=running&page=50"),
    ("supervisor", "instance view", "/supervise/instances/{instance_id}"),
    ("supervisor", "incidents", "/supervise/incidents"),
    ("supervisor", "heatmap", "/supervise/heatmap?process={process_id}"),
    ("designer", "procedures", "/design/"),
    ("designer", "compare versions", "/design/compare?process={process_id}"),
    ("designer", "migration preview", "/design/migrate?process={process_id}"),
    ("designer", "migration preview rows", "/design/migrate/rows?process={process_id}&ids={instance_id}"),
    ("api", "GET /api/v1/cases", "/api/v1/cases"),
    ("api", "GET /api/v1/cases/<case>", "/api/v1/cases/{case_no}"),
    ("api", "GET /api/v1/instances: overdue", "/api/v1/instances?overdue=1"),
    ("api", "GET /api/v1/instances/<id>", "/api/v1/instances/{instance_id}"),
    ("api", "GET /api/v1/tasks: page 3", "/api/v1/tasks?page=3"),
    ("api", "GET /api/v1/tasks/<id>", "/api/v1/tasks/{task_id}"),
    ("api", "GET /api/v1/incidents", "/api/v1/incidents"),
    ("api", "GET /api/v1/definitions", "/api/v1/definitions"),
    ("public", "case progress lookup", "/public"),
    ("public", "case progress (after a lookup)", "/public/case"),
    ("admin", "users", "/admin/users"),
    ("admin", "user", "/admin/users/bench"),
    ("admin", "API tokens", "/admin/tokens"),
]


@dataclass(frozen=True)
class Sample:
    """Values the page URLs may name: ``{instance_id}``, ``{case_no}``, ``{court}``, ``{task_id}``,
    ``{process_id}``."""

    instance_id: int
    case_no: str
    court: str
    task_id: str
    process_id: str


# -- loading ----------------------------------------------------------------------------------------------------
def _templates(engine: Engine) -> list:
    """The demo's cases, run by the engine: the rows every copy is made from."""
    from tools.demo import load_demo
    load_demo(engine)
    engine.run_until_idle()
    with engine.db.connect() as conn:
        return conn.execute(sa.select(instances)).all()


def _copy_rows(conn, template, new_id: int, case_no: str, court: str, shift: timedelta, owner: str,
               rng: random.Random) -> dict:
    """One case copied from ``template``: its rows in every table, moved ``shift`` back in time."""
    started = template.started_at - shift
    fields = dict(template.fields or {}, owner=owner,
                  term_due_on=(started + timedelta(days=183)).date().isoformat())
    rows: dict[str, list] = {"human_tasks": [], "jobs": [], "subscriptions": [], "events": []}
    prev, seq = GENESIS, 0
    for ev in conn.execute(sa.select(events).where(events.c.instance_id == template.id).order_by(events.c.seq)):
        seq += 1
        row = event_row(new_id, case_no, seq, prev, ev.at - shift, ev.actor, ev.action, ev.task_id, ev.bpmn_id,
                        ev.data)
        rows["events"].append(row)
        prev = row["hash"]
    task_ids: dict[str, str] = {}
    for t in conn.execute(sa.select(human_tasks).where(human_tasks.c.instance_id == template.id)):
        task_ids[t.task_id] = str(uuid.uuid4())
        rows["human_tasks"].append(dict(t._mapping, task_id=task_ids[t.task_id], instance_id=new_id, court=court,
                                        case_no=case_no, claimed_by=owner if rng.random() < 0.3 else None,
                                        due_at=t.due_at and t.due_at - shift, created_at=t.created_at - shift))
    for j in conn.execute(sa.select(jobs).where(jobs.c.instance_id == template.id)):
        failed = j.kind == "service" and rng.random() < 0.2
        values = dict(j._mapping, instance_id=new_id, task_id=task_ids.get(j.task_id, str(uuid.uuid4())),
                      idempotency_key=f"{j.kind}:{new_id}:{uuid.uuid4().hex}", due_at=j.due_at - shift,
                      status="incident" if failed else j.status, attempts=j.max_attempts if failed else 0,
                      last_error="sandbox: connection refused (bench)" if failed else None,
                      created_at=j.created_at - shift, updated_at=j.updated_at - shift)
        values.pop("id")
        rows["jobs"].append(values)
    for s in conn.execute(sa.select(subscriptions).where(subscriptions.c.instance_id == template.id)):
        rows["subscriptions"].append(dict(s._mapping, task_id=str(uuid.uuid4()), instance_id=new_id,
                                          correlation_key=case_no))
    rows["instance"] = dict(template._mapping, id=new_id, case_no=case_no, court=court, fields=fields,
                            started_at=started, updated_at=template.updated_at - shift,
                            ended_at=template.ended_at and template.ended_at - shift, last_seq=seq, last_hash=prev)
    return rows


def load(engine: Engine, cases: int, seed: int = 4) -> Sample:
    """Courts, a user with every role, the demo cases, and copies of them up to ``cases`` cases."""
    rng = random.Random(seed)
    engine.add_court(PARENT_COURT, "成都市中级人民法院", "intermediate")
    engine.add_court(COURT, "成都市武侯区人民法院", "basic", PARENT_COURT)
    engine.add_court(OTHER_COURT, "成都市成华区人民法院", "basic", PARENT_COURT)
    engine.add_user(USER, "基准测试", [(court, role) for court in (COURT, PARENT_COURT) for role in ROLES],
                    generate_password_hash(PASSWORD))
    templates = _templates(engine)
    with engine.db.begin() as conn:
        next_id = conn.execute(sa.select(sa.func.max(instances.c.id))).scalar() + 1
        batch: dict[str, list] = {"instances": [], "human_tasks": [], "jobs": [], "subscriptions": [], "events": []}
        for n in range(cases - len(templates)):
            template = templates[n % len(templates)]
            court = OTHER_COURT if rng.random() < 0.15 else COURT
            # filed any day of the past year: the whole copy moves back in time, so its history stays consistent
            shift = timedelta(days=rng.uniform(0, 365))
            rows = _copy_rows(conn, template, next_id + n, f"（2025）{court}执{1000 + n}号", court, shift,
                              rng.choice(OFFICERS), rng)
            batch["instances"].append(rows.pop("instance"))
            for table, values in rows.items():
                batch[table] += values
            if len(batch["instances"]) >= 1000:
                _flush(conn, batch)
        _flush(conn, batch)
        sample = conn.execute(sa.select(human_tasks).where(human_tasks.c.court == COURT)
                              .order_by(human_tasks.c.instance_id).limit(1)
                              .offset(cases // 2)).first()
        process_id = conn.execute(sa.select(instances.c.process_id).where(instances.c.id == sample.instance_id)
                                  ).scalar()
    return Sample(sample.instance_id, sample.case_no, COURT, sample.task_id, process_id)


def _flush(conn, batch: dict) -> None:
    for name, table in (("instances", instances), ("human_tasks", human_tasks), ("jobs", jobs),
                        ("subscriptions", subscriptions), ("events", events)):
        if batch[name]:
            conn.execute(table.insert(), batch[name])
            batch[name] = []


# -- timing -----------------------------------------------------------------------------------------------------
def _client(engine: Engine, sample: Sample):
    from web import create_app
    app = create_app({"ENGINE": engine, "SECRET_KEY": "bench", "TESTING": True})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, "the bench user could not log in"
    # the API authenticates by a token only; the public case page shows the case of a verified lookup
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + engine.tokens.create(USER, "bench", USER)[1]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/public").get_data(as_text=True)).group(1)
    client.post("/public", data={"case_no": sample.case_no, "code": engine.public_code(sample.case_no),
                                 "csrf_token": token})
    return client


def measure(client, url: str, runs: int) -> tuple[float, float, int]:
    """p50 and p95 server time in ms over ``runs`` requests (after two to warm caches), and the status."""
    for _ in range(2):
        status = client.get(url).status_code
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page")
    parser.add_argument("--only", default="", help="only pages whose URL contains this text")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zhixing-bench-pages-") as tmp:
        os.environ.setdefault("ZHIXING_SANDBOX_DIR", str(Path(tmp) / "sandbox"))
        os.environ.setdefault("ZHIXING_DOCUMENT_DIR", str(Path(tmp) / "documents"))
        engine = Engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        engine.init_schema()
        started = time.perf_counter()
        sample = load(engine, args.cases)
        print(f"loaded {args.cases} cases in {time.perf_counter() - started:.1f} s "
              f"(sample: instance {sample.instance_id}, {sample.case_no})")
        client = _client(engine, sample)
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}; timings grow with it".format(*os.getloadavg()))
        print(f"{'area':<11} {'page':<36} {'p50 ms':>8} {'p95 ms':>8}  target {TARGET_MS:.0f} ms")
        failed = 0
        for area, name, template in PAGES:
            url = template.format(**sample.__dict__)
            if args.only not in url:
                continue
            p50, p95, status = measure(client, url, args.runs)
            verdict = "ok" if p95 <= TARGET_MS and status == 200 else "FAIL"
            failed += verdict != "ok"
            note = "" if status == 200 else f" (HTTP {status})"
            print(f"{area:<11} {name:<36} {p50:8.1f} {p95:8.1f}  {verdict}{note}")
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        engine.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
