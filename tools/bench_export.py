"""Export of the execution log for process mining: ``python -m tools.bench_export [--cases 10000] [--database URL]``.

A throw-away SQLite file (or a fresh database on a PostgreSQL server) gets the real procedures and the demo
cases run by the engine, copied by plain SQL into ``--cases`` cases of one court filed over a year (the loader of
``tools/bench_pages.py``: every copy keeps its events with a valid hash chain, task ids and people). Then the
court's whole log for that year is exported as XES and as OCEL 2.0 (``Engine.export_log``) to a file, each timed
(wall clock, median of ``--runs``), with its size and events per second; one more run of each under
``tracemalloc`` gives the peak of Python memory while streaming, which stays flat as the log grows (the
instances of the export and, for OCEL, the tasks and people met are all it keeps).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from engine import Engine
from engine.legaltime.periods import COURT_TZ
from engine.store.tables import events, instances
from tools.bench_pages import OFFICERS, _copy_rows, _flush, _templates

COURT = "川0104"


def load(engine: Engine, cases: int, seed: int = 5) -> tuple[date, date]:
    """The demo cases and copies of them in ``COURT`` up to ``cases``; the first and last day of their log."""
    rng = random.Random(seed)
    engine.add_court(COURT, "成都市武侯区人民法院", "basic")
    templates = [t for t in _templates(engine) if t.court == COURT]
    with engine.db.begin() as conn:
        next_id = conn.execute(sa.select(sa.func.max(instances.c.id))).scalar() + 1
        batch: dict[str, list] = {"instances": [], "human_tasks": [], "jobs": [], "subscriptions": [], "events": []}
        for n in range(cases - len(templates)):
            rows = _copy_rows(conn, templates[n % len(templates)], next_id + n, f"（2025）{COURT}执{1000 + n}号",
                              COURT, timedelta(days=rng.uniform(0, 365)), rng.choice(OFFICERS), rng)
            batch["instances"].append(rows.pop("instance"))
            for table, values in rows.items():
                batch[table] += values
            if len(batch["instances"]) >= 1000:
                _flush(conn, batch)
        _flush(conn, batch)
        low, high = conn.execute(sa.select(sa.func.min(events.c.at), sa.func.max(events.c.at))).one()
    return low.astimezone(COURT_TZ).date(), high.astimezone(COURT_TZ).date()


def export_once(engine: Engine, fmt: str, start: date, end: date, path: Path) -> tuple[float, object]:
    t0 = time.perf_counter()
    export = engine.export_log(fmt, COURT, None, start, end)
    with path.open("w", encoding="utf-8") as out:
        for chunk in export.chunks:
            out.write(chunk)
    return time.perf_counter() - t0, export


def run(engine: Engine, cases: int, runs: int, echo=print) -> dict:
    t0 = time.perf_counter()
    start, end = load(engine, cases)
    echo(f"{cases:,} cases loaded in {time.perf_counter() - t0:.0f} s (log {start} – {end}); "
         f"load average {os.getloadavg()[0]:.2f}")
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="zhixing-export-") as tmp:
        for fmt in ("xes", "ocel"):
            path = Path(tmp) / f"log.{fmt}"
            times = []
            for _ in range(runs):
                seconds, export = export_once(engine, fmt, start, end, path)
                times.append(seconds)
            tracemalloc.start()
            export_once(engine, fmt, start, end, path)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            median = statistics.median(times)
            figures.update({f"export_{fmt}_s": median, f"export_{fmt}_mb": path.stat().st_size / 2 ** 20,
                            f"export_{fmt}_events_per_s": export.events / median,
                            f"export_{fmt}_peak_mb": peak / 2 ** 20})
            figures["export_instances"], figures["export_events"] = export.instances, export.events
            echo(f"{fmt:<5} {export.instances:,} instances, {export.events:,} events: {median:.2f} s "
                 f"(runs {', '.join(f'{t:.2f}' for t in times)}), {path.stat().st_size / 2 ** 20:.1f} MB, "
                 f"{export.events / median:,.0f} events/s, Python memory peak {peak / 2 ** 20:.1f} MB")
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", help="a PostgreSQL URL (a fresh database is made on that server)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zhixing-bench-export-") as tmp:
        os.environ.setdefault("ZHIXING_SANDBOX_DIR", f"{tmp}/sandbox")
        os.environ.setdefault("ZHIXING_DOCUMENT_DIR", f"{tmp}/documents")
        if args.database:
            from tools.bench_scale import fresh_database
            name = f"zhixing_bench_export_{os.getpid()}"
            url = fresh_database(args.database, name)
        else:
            url = f"sqlite:///{tmp}/export.db"
        engine = Engine(url)
        try:
            engine.init_schema()
            engine.deploy([Path(__file__).resolve().parent.parent / "bpmn"], actor="bench")
            run(engine, args.cases, args.runs)
        finally:
            engine.close()
            if args.database:
                fresh_database(args.database, name, create=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
