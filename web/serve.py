"""``zhixing serve``: the web application on gunicorn, shaped to the store.

* **SQLite** takes one writer at a time, so one process with threads (gthread): a second process would only add
  a second contender for the file's write lock, and the in-process scheduler then runs once.
* **PostgreSQL**: several processes (one per core by default, a GIL each), each with a few threads; each runs
  its own scheduler unless ``--no-scheduler`` (job leases make every job run once, whichever process takes it).

Connections are kept alive (HTTP/1.1 keep-alive, ``KEEPALIVE_S``): a client sending many requests, such as a
court system filing cases through ``POST /api/v1/cases``, pays for one TCP connection, not one per request.

SIGTERM is a graceful stop: gunicorn stops accepting, lets the running requests finish (up to
``GRACEFUL_TIMEOUT_S``), then each process stops its scheduler after the job batch it is running (each job is
its own transaction). SIGINT (Ctrl-C, as under ``make run``) is gunicorn's quick stop.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from gunicorn.app.base import BaseApplication

from engine.errors import ZhixingError

KEEPALIVE_S = 5                # how long an idle kept-alive connection stays open
GRACEFUL_TIMEOUT_S = 30        # SIGTERM: running requests get this long to finish
THREADS_SQLITE = 8
THREADS_POSTGRES = 4


@dataclass(frozen=True)
class Shape:
    """Processes and threads for a store; ``why`` is printed at start so an operator sees the choice."""

    workers: int
    threads: int
    why: str


def shape_for(url: str, workers: int | None = None, threads: int | None = None) -> Shape:
    """One process on SQLite (a second would fail with ``workers``), one per core on PostgreSQL."""
    if url.startswith("sqlite"):
        if workers not in (None, 1):
            raise ZhixingError("SQLite takes one writer at a time: serve it with one process (--workers 1) and "
                               "threads (--threads N); use PostgreSQL for several processes")
        return Shape(1, threads or THREADS_SQLITE, "SQLite: one process, threads (one writer at a time)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return Shape(workers or max(2, cores), threads or THREADS_POSTGRES, f"PostgreSQL: processes ({cores} cores)")


def check_port(host: str, port: int) -> None:
    """Fail with one line if the address is taken (gunicorn would retry five times, then print a traceback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)      # as gunicorn binds: TIME_WAIT is fine
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ZhixingError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; is another server "
                               "running there? choose another --port") from None


class Server(BaseApplication):
    """gunicorn embedded: the options come from ``zhixing serve``, not from gunicorn's own command line, and
    each process makes its own application (no preload: SQLite connections and the scheduler's threads must not
    cross a fork)."""

    def __init__(self, options: dict, scheduler: bool):
        self.options, self.scheduler = options, scheduler
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if self.scheduler:
            self.cfg.set("worker_exit", _stop_scheduler)

    def load(self):
        from web import create_app
        app = create_app()
        if self.scheduler:
            app.extensions["zhixing_scheduler"] = app.extensions["zhixing"].start_background()
        return app


def _stop_scheduler(_arbiter, worker) -> None:
    """gunicorn's ``worker_exit``, in the worker process once its requests are done: finish the running jobs."""
    app = getattr(worker, "wsgi", None)
    scheduler = getattr(app, "extensions", {}).get("zhixing_scheduler")
    if scheduler is not None:
        app.extensions["zhixing"].stop_background(scheduler)
        worker.log.info("scheduler stopped (pid %s)", os.getpid())


def options(host: str, port: int, shape: Shape, access_log: str | None = None) -> dict:
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "worker_class": "gthread",
        "workers": shape.workers,
        "threads": shape.threads,
        "keepalive": KEEPALIVE_S,
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "timeout": 120,                      # a worker silent this long is restarted (a hung request)
        "accesslog": access_log,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "zhixing",
        "control_socket_disable": True,      # gunicornc's socket is one per user: two servers would collide
    }


def serve(host: str, port: int, url: str, scheduler: bool = True, workers: int | None = None,
          threads: int | None = None, access_log: str | None = None, echo=print) -> None:
    """Run until stopped (SIGTERM: graceful; SIGINT: quick)."""
    shape = shape_for(url, workers, threads)
    check_port(host, port)
    where = ("in each process" if shape.workers > 1 else "in the process") if scheduler else "off"
    echo(f"zhixing serving on http://{host}:{port}/ with gunicorn: {shape.workers} process(es) × "
         f"{shape.threads} threads ({shape.why}); scheduler {where}")
    Server(options(host, port, shape, access_log), scheduler).run()
