"""Connection factory and schema upgrade (Alembic)."""
from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

DEFAULT_URL = "sqlite:///var/zhixing.db"
ROOT = Path(__file__).resolve().parents[2]


def database_url(url: str | None = None) -> str:
    return url or os.environ.get("DATABASE_URL") or DEFAULT_URL


def create_engine(url: str | None = None) -> sa.Engine:
    """An SQLAlchemy engine; for SQLite, WAL mode and a busy timeout so readers never block the writer."""
    url = database_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below own the transaction
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers take the lock up front (no read-to-write upgrade deadlocks); readers stay concurrent (WAL).
            write = conn.get_execution_options().get("zhixing_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def upgrade(url: str | None = None) -> None:
    """Create or upgrade the schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url(url))
    command.upgrade(cfg, "head")


def inserted_id(result) -> int:
    """The primary key an INSERT made (SQLAlchemy types it as optional: only an INSERT has one)."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
