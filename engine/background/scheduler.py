"""APScheduler wiring: it only fires the tick; the work and its state live in the ``jobs`` table.

``zhixing serve`` runs a background scheduler in the web process; ``zhixing worker`` runs a blocking one. Any
number of them may run against one database: job leases make each job run once.
"""
from __future__ import annotations

import logging
import threading

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

TICK_SECONDS = 0.5
log = logging.getLogger("zhixing.scheduler")


def _tick(engine, stopping: threading.Event | None = None) -> None:
    try:   # drain a backlog without waiting for the next tick, unless the process is shutting down
        while engine.run_due_jobs(limit=100) == 100 and not (stopping and stopping.is_set()):
            pass
    except Exception:  # the database went away: log it, the next tick tries again
        log.exception("tick failed; will retry")


def _add(scheduler, engine, stopping=None):
    scheduler.add_job(_tick, "interval", seconds=TICK_SECONDS, args=[engine, stopping], id="zhixing-tick",
                      max_instances=1, coalesce=True)
    return scheduler


def start_background(engine) -> BackgroundScheduler:
    stopping = threading.Event()
    scheduler = _add(BackgroundScheduler(daemon=True), engine, stopping)
    scheduler.zhixing_stopping = stopping
    scheduler.start()
    return scheduler


def stop_background(scheduler: BackgroundScheduler) -> None:
    """Graceful stop: no new tick, and the running one ends after its current batch of jobs (each job is its own
    transaction, so nothing is left half done; a lease not released is taken again once it runs out)."""
    stopping = getattr(scheduler, "zhixing_stopping", None)
    if stopping is not None:
        stopping.set()
    scheduler.shutdown(wait=True)


def run_blocking(engine) -> None:
    _add(BlockingScheduler(), engine).start()
