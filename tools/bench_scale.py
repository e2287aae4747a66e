"""The figures at scale (issue 5): task list, supervisor dashboard and a sweep of due re-queries over N instances.

One real 终本 (no-asset exit) case is driven through ``bpmn/no_asset_exit.bpmn`` by the engine until it waits in the
no-asset pool (``pool_wait``, its 6-monthly re-query timer armed); a snapshot is also kept while it waited at
``pool_entry`` (an open human task). Its rows (instance with its stored workflow, timer job, message subscription,
hash-chained events, open human task) are then cloned N times with new ids and case numbers, over ten courts: 90%
waiting on the re-query timer, 10% at the open task. PostgreSQL is loaded with COPY, SQLite with multi-row inserts.

Clones share their template's SpiffWorkflow task ids inside the stored state; only the rows that must be unique get
new ones (a clone's human task and subscription can be listed and counted, not completed or correlated). The
timer clones are complete: firing one runs the real re-query (asset search, notice, back to waiting).
"""
from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from engine.api import Engine
from engine.court.roles import ROLES
from engine.kernel.audit import GENESIS, event_row
from engine.legaltime.clock import VirtualClock
from engine.store.database import ROOT
from engine.store.tables import case_records, cases, events, human_tasks, instances, jobs, subscriptions

COURT = "川0104"
COURTS = [f"川01{n:02d}" for n in range(4, 14)]          # ten basic courts; the officers work in the first
OFFICER = "bench_officer"
SWEEP = 10_000
WORKER_COUNTS = (1, 2, 4)
AT_TASK = 0.1                  # share of clones waiting at the open task (pool_entry); the rest wait on the timer
CASE = dict(debtor_id="510107198511203317", debtor_name="陈大明", filed_on="2026-01-20", amount=50000, recovered=0,
            applicant_name="四川锦城小额贷款有限公司", basis="（2025）川0104民初456号民事判决书",
            blacklist_ground=4)
# what the enforcement case recorded before it proposed the exit (its case file): notice and report order served
_NOTICE = "（2026）川0104执1号/enforcement_notice-1.docx"
RECORDS = [
    {"kind": "document", "body": {"path": _NOTICE, "doc_type": "enforcement_notice", "sha256": "a" * 64,
                                  "generated_at": "2026-01-21T10:00:00+08:00"}},
    {"kind": "document", "body": {"path": "（2026）川0104执1号/asset_report_order-1.docx", "sha256": "b" * 64,
                                  "doc_type": "asset_report_order", "generated_at": "2026-01-21T10:00:00+08:00"}},
    {"kind": "service", "body": {"delivery_id": "DL-1", "document": _NOTICE, "recipient": "陈大明", "role": "debtor",
                                 "method": "electronic", "sent_at": "2026-01-23T10:00:00+08:00",
                                 "served_at": "2026-01-23T10:00:00+08:00", "delivered": True}}]
# the sweep's target is the machine's: the best of the worker counts (one process uses one of the two cores);
# the figure of each count (sweep_per_s_1w, _2w, _4w) is printed beside it
TARGETS = {"tasklist_p95_ms": ("<=", 100, "ms"), "dashboard_ms": ("<=", 1000, "ms"),
           "sweep_per_s": (">=", 300, "instances/s")}


def _snapshot(conn, instance_id: int) -> dict:
    """Every row of one instance, table by table."""
    row = dict(conn.execute(sa.select(instances).where(instances.c.id == instance_id)).one()._mapping)
    return {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t).where(t.c.instance_id == instance_id))]
            for t in (jobs, human_tasks, subscriptions, events)} | {"instances": [row]} | \
        {"cases": [dict(r._mapping) for r in conn.execute(sa.select(cases).where(cases.c.id == row["case_id"]))],
         "case_records": [dict(r._mapping) for r in conn.execute(sa.select(case_records)
                                                                 .where(case_records.c.case_id == row["case_id"]))]}


def prepare(engine: Engine) -> list[dict]:
    """Courts, users, the real procedures, and one 终本 case run by the engine 200 days ago (a virtual clock), so
    that its stored re-query timer is already due: its snapshots at ``pool_entry`` and in ``pool_wait``."""
    template_engine = Engine(engine.url, clock=VirtualClock(datetime.now(UTC) - timedelta(days=200)))
    try:
        return _prepare(template_engine)
    finally:
        template_engine.close()


def _prepare(engine: Engine) -> list[dict]:
    for code in COURTS:
        engine.add_court(code, f"基准法院 {code}", "basic")
    engine.add_user(OFFICER, "基准 执行员", [(COURT, role) for role in ROLES])
    engine.deploy([ROOT / "bpmn"], actor="bench")     # the shipped procedures, from any directory
    view = engine.start("no_asset_exit", f"（2026）{COURT}执1号", COURT, CASE, actor=OFFICER, records=RECORDS)
    engine.run_until_idle()
    [task] = engine.tasks(instance_id=view.id)
    engine.complete_task(task.task_id, OFFICER, {"interviewed_on": "2026-11-20", "applicant_view": "同意终本",
                                                 "applicant_confirms": True})
    engine.run_until_idle()
    with engine.db.connect() as conn:
        at_task = _snapshot(conn, view.id)
    [task] = engine.tasks(instance_id=view.id)
    engine.complete_task(task.task_id, OFFICER, {"pool_entry_no": "ZB-2026-0001", "entered_on": "2026-11-21"})
    engine.run_until_idle()
    with engine.db.connect() as conn:
        waiting = _snapshot(conn, view.id)
    if [j["bpmn_id"] for j in waiting["jobs"] if j["status"] == "ready"] != ["requery_timer"]:
        raise RuntimeError(f"the template case should wait on its re-query timer: {waiting['jobs']}")
    with engine.db.begin() as conn:       # the template itself is not swept
        conn.execute(jobs.update().where(jobs.c.instance_id == view.id)
                     .values(due_at=datetime(2100, 1, 1, tzinfo=UTC)))
    return [waiting, at_task]


def _clone(template: dict, new_id: int, rng: random.Random, now: datetime) -> dict[str, list]:
    court = COURT if rng.random() < 0.3 else rng.choice(COURTS)
    case_no = f"（{rng.choice((2022, 2023, 2024, 2025))}）{court}执{new_id}号"
    shift = timedelta(days=rng.uniform(0, 180))           # filed, and its timer due, at any point of 6 months
    out: dict[str, list] = {"instances": [dict(template["instances"][0], id=new_id, case_no=case_no, court=court,
                                               started_at=template["instances"][0]["started_at"] - shift,
                                               case_id=new_id)]}
    out["cases"] = [dict(c, id=new_id, case_no=case_no, court=court, main_instance_id=new_id)
                    for c in template["cases"]]
    out["case_records"] = [dict(r, id=None, case_id=new_id, instance_id=new_id) for r in template["case_records"]]
    out["jobs"] = [dict(j, id=None, instance_id=new_id, idempotency_key=f"{j['kind']}:{new_id}:{j['id']}",
                        due_at=now + timedelta(days=1) + shift if j["status"] == "ready" else j["due_at"] - shift)
                   for j in template["jobs"]]
    out["human_tasks"] = [dict(t, task_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), instance_id=new_id,
                               court=court, case_no=case_no, due_at=t["due_at"] + shift - timedelta(days=90),
                               created_at=t["created_at"] - shift) for t in template["human_tasks"]]
    out["subscriptions"] = [dict(s, task_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                 instance_id=new_id, correlation_key=case_no) for s in template["subscriptions"]]
    prev, log = GENESIS, []
    for e in template["events"]:
        row = event_row(new_id, case_no, e["seq"], prev, e["at"] - shift, e["actor"], e["action"], e["task_id"],
                        e["bpmn_id"], e["data"])
        log.append(row)
        prev = row["hash"]
    out["events"] = log
    out["instances"][0].update(last_hash=prev, last_seq=len(log))
    return out


TABLES = {"instances": instances, "jobs": jobs, "human_tasks": human_tasks, "subscriptions": subscriptions,
          "events": events, "cases": cases, "case_records": case_records}


def _copy(conn, name: str, rows: list[dict]) -> None:
    """PostgreSQL COPY of rows (JSON columns as text); elsewhere a multi-row insert."""
    table = TABLES[name]
    cols = [c.name for c in table.c if c.name != "id" or name in ("instances", "cases")]
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), [{c: r.get(c) for c in cols} for r in rows])
        return
    json_cols = {c.name for c in table.c if isinstance(c.type, sa.JSON)}
    with conn.connection.cursor() as cur:
        with cur.copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([json.dumps(r.get(c), ensure_ascii=False, default=str)
                                if c in json_cols and r.get(c) is not None else r.get(c) for c in cols])


def load(engine: Engine, templates: list[dict], count: int, echo=print, seed: int = 5) -> None:
    """Clone the template case up to ``count`` instances: 90% waiting on the re-query timer, 10% at a task."""
    rng, now = random.Random(seed), datetime.now(UTC)
    with engine.db.connect() as conn:
        first = conn.execute(sa.select(sa.func.max(instances.c.id))).scalar() + 1
    t0, batch_size = time.perf_counter(), 5000
    for start in range(first, first + count - 1, batch_size):
        batch: dict[str, list] = {name: [] for name in TABLES}
        for new_id in range(start, min(start + batch_size, first + count - 1)):
            for name, rows in _clone(templates[rng.random() < AT_TASK], new_id, rng, now).items():
                batch[name] += rows
        with engine.db.begin() as conn:
            for name in TABLES:
                _copy(conn, name, batch[name])
        if (start - first) % 100_000 < batch_size and start > first:
            echo(f"    {start - first:,} instances loaded ({time.perf_counter() - t0:.0f} s)")
    with engine.db.begin() as conn:
        if conn.dialect.name == "postgresql":
            for name in ("instances", "cases"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT max(id) FROM {name}))"))
            conn.execute(sa.text("ANALYZE"))
        else:
            conn.execute(sa.text("ANALYZE"))


def _timed(fn, runs: int) -> list[float]:
    fn()                                           # warm caches
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def measure_reads(engine: Engine, runs: int) -> dict:
    """The officer's task list (first page, then page 3 of the due-date order) and the supervisor dashboard
    (``supervision.dashboard`` of the court + ``Engine.metrics`` for its year), as the web pages call them."""
    pages = [{}, {"page": 3}, {"sort": "created"}, {"overdue": True}]
    tasks = _timed(lambda: [engine.casework.tasks(OFFICER, per_page=50, **p) for p in pages], runs)
    board = _timed(lambda: (engine.supervision.dashboard([COURT]),
                            engine.metrics(COURT, date(2026, 1, 1), date(2026, 12, 31))), max(3, runs // 10))
    return {"tasklist_p95_ms": tasks[round(0.95 * (len(tasks) - 1))] / len(pages),
            "tasklist_p50_ms": statistics.median(tasks) / len(pages), "dashboard_ms": statistics.median(board)}


def _outstanding(conn, ids, horizon: datetime) -> int:
    """Re-queries not yet done: due timers of the swept instances, and any job they spawned (not the next timer,
    6 months on)."""
    return conn.execute(sa.select(sa.func.count()).select_from(jobs).where(
        jobs.c.instance_id.in_(ids), jobs.c.status.in_(("ready", "running")), jobs.c.due_at <= horizon)).scalar()


def measure_sweep(engine: Engine, workers: int, offset: int, count: int, echo=print) -> dict:
    """Make ``count`` re-query timers due, run ``workers`` ``zhixing worker`` processes, and time until every one
    has fired and its re-query (asset search, notice, back to waiting 6 months) is done."""
    zhixing = os.path.join(os.path.dirname(sys.executable), "zhixing")
    procs = [subprocess.Popen([zhixing, "worker"], env=dict(os.environ, DATABASE_URL=engine.url),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    time.sleep(3)                      # the workers are up and polling: their start-up is not timed
    try:
        now = datetime.now(UTC)
        # a writer's transaction (BEGIN IMMEDIATE on SQLite): a read that upgrades to a write fails at once if a
        # worker wrote meanwhile
        with engine.db.connect().execution_options(zhixing_write=True) as conn, conn.begin():
            ids = conn.execute(sa.select(jobs.c.instance_id).where(
                jobs.c.kind == "timer", jobs.c.status == "ready", jobs.c.bpmn_id == "requery_timer",
                jobs.c.due_at > now).order_by(jobs.c.instance_id).offset(offset).limit(count)).scalars().all()
            conn.execute(jobs.update().where(jobs.c.instance_id.in_(ids), jobs.c.kind == "timer",
                                             jobs.c.status == "ready").values(due_at=now - timedelta(seconds=1)))
        t0 = time.perf_counter()
        while True:
            time.sleep(0.25)
            with engine.db.connect() as conn:
                left = _outstanding(conn, ids, now + timedelta(days=1))
            if left == 0 or time.perf_counter() - t0 > 1800:
                break
        elapsed = time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    with engine.db.connect() as conn:
        fired = conn.execute(sa.select(sa.func.count()).select_from(events).where(
            events.c.instance_id.in_(ids), events.c.action == "timer_fired")).scalar()
        incidents = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(
            jobs.c.instance_id.in_(ids), jobs.c.status == "incident")).scalar()
    if left or incidents or fired < len(ids):
        raise RuntimeError(f"sweep with {workers} workers: {left} re-queries left, {incidents} incidents, "
                           f"{fired} of {len(ids)} timers fired")
    echo(f"    sweep, {workers} worker(s): {len(ids):,} re-queries in {elapsed:.1f} s")
    return {f"sweep_per_s_{workers}w": len(ids) / elapsed}


def run_scale(engine: Engine, count: int, sweep: int = SWEEP, runs: int = 60, echo=print) -> dict:
    """Every figure at ``count`` instances (``engine`` on a fresh migrated database)."""
    t0 = time.perf_counter()
    templates = prepare(engine)
    load(engine, templates, count, echo)
    echo(f"  {count:,} instances loaded in {time.perf_counter() - t0:.0f} s")
    figures = measure_reads(engine, runs)
    waiting = int(count * (1 - AT_TASK)) // len(WORKER_COUNTS)     # each worker count sweeps other instances
    if sweep > waiting:
        echo(f"  sweep of {waiting:,} per worker count: {count:,} instances hold no more (--instances ≥ 3.4 × sweep)")
        sweep = waiting
    for n, workers in enumerate(WORKER_COUNTS):
        figures.update(measure_sweep(engine, workers, n * sweep, sweep, echo))
    figures["sweep_per_s"] = max(figures[f"sweep_per_s_{n}w"] for n in WORKER_COUNTS)
    figures["instances"] = float(count)
    return figures


def fresh_database(url: str, name: str, create: bool = True) -> str:
    """A new empty database ``name`` on the PostgreSQL server of ``url`` (dropped first; ``create=False``: only
    dropped); its URL."""
    server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


def main(argv=None) -> int:
    """``python -m tools.bench_scale --database URL --instances 10000,100000``: the figures at each size, each
    on a fresh database of that PostgreSQL server (or a temporary SQLite file without ``--database``)."""
    import argparse
    import tempfile
    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--database", help="a PostgreSQL URL (the server is used, its database is not touched)")
    parser.add_argument("--instances", default="10000", help="comma-separated sizes")
    parser.add_argument("--sweep", type=int, default=SWEEP, help="re-queries made due per worker count")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="zhixing-bench-scale-") as tmp:
        for size in (int(n) for n in args.instances.split(",")):
            # the sandbox remembers orders per case: a fresh one for each fresh database
            os.environ["ZHIXING_SANDBOX_DIR"] = os.path.join(tmp, f"sandbox_{size}")
            os.environ["ZHIXING_DOCUMENT_DIR"] = os.path.join(tmp, f"documents_{size}")
            url = fresh_database(args.database, f"zhixing_bench_{size}") if args.database \
                else f"sqlite:///{tmp}/scale_{size}.db"
            print(f"{size:,} instances on {url.split('@')[-1]}; load average %.2f %.2f %.2f" % os.getloadavg(),
                  flush=True)
            engine = Engine(url)
            engine.init_schema()
            figures = run_scale(engine, size, args.sweep, echo=lambda line: print(line, flush=True))
            engine.close()
            print(json.dumps(figures), flush=True)
            results.append(figures)
    failed = [f"{name} at {r['instances']:,.0f}" for r in results for name, (op, target, _u) in TARGETS.items()
              if not (r[name] >= target if op == ">=" else r[name] <= target)]
    print("targets missed: " + (", ".join(failed) or "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
