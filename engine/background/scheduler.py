"""APScheduler wiring: it only fires the tick; the work and its state live in the ``jobs`` table.

``zhixing serve`` runs a background scheduler in the web process; ``zhixing worker`` runs a blocking one. Any
number of them may run against one database: job leases make each job run once.
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

TICK_SECONDS = 0.5
log = logging.getLogger("zhixing.scheduler")


def _tick(engine) -> None:
    try:
        while engine.run_due_jobs(limit=100) == 100:   # drain a backlog without waiting for the next tick
            pass
    except Exception:  # the database went away: log it, the next tick tries again
        log.exception("tick failed; will retry")


def _add(scheduler, engine):
    scheduler.add_job(_tick, "interval", seconds=TICK_SECONDS, args=[engine], id="zhixing-tick",
                      max_instances=1, coalesce=True)
    return scheduler


def start_background(engine) -> BackgroundScheduler:
    scheduler = _add(BackgroundScheduler(daemon=True), engine)
    scheduler.start()
    return scheduler


def run_blocking(engine) -> None:
    _add(BlockingScheduler(), engine).start()
