"""What ``zhixing backup PATH`` and ``zhixing restore PATH`` do (engine/store/backup.py does the work;
docs/deployment.md has the schedule); the commands themselves are declared in web/cli.py."""
from __future__ import annotations

import sys
from pathlib import Path

import click


def _places() -> tuple[str, Path, Path]:
    """The store and the two folders its handlers write to, as configured for this process."""
    from engine import database_url
    from handlers.documents.handlers import document_dir
    from handlers.sandbox_store import sandbox_dir
    return database_url(), document_dir(), sandbox_dir()


def _describe(report) -> str:
    sandbox = "sandbox memory" if report.sandbox else "no sandbox memory"
    return (f"{report.instances} case(s), {report.events} event(s), {report.documents} document(s), {sandbox}; "
            f"database {report.database_id or '(no identity: schema before 0009)'}")


def backup(path: Path) -> None:
    """Copy the database (online, while the server and workers run), its sandbox memory and the documents into
    the new directory PATH. On PostgreSQL the database part is pg_dump's."""
    from engine import take_backup as take
    url, documents, sandbox = _places()
    report = take(url, path, documents, sandbox)
    click.echo(f"backup {report.path}: {_describe(report)}")


def restore(path: Path, force: bool, no_verify: bool) -> None:
    """Bring the backup in PATH back into DATABASE_URL (and the sandbox memory and the documents), then verify
    the execution log's hash chains. Refuses a database with cases, or in use, unless --force."""
    from engine import Engine
    from engine import restore_backup as bring_back
    url, documents, sandbox = _places()
    report = bring_back(path, url, documents, sandbox, force=force)
    click.echo(f"restored {report.path}: {_describe(report)}")
    for note in report.notes:
        click.echo(f"note: {note}")
    if no_verify:
        return
    engine = Engine(url)
    try:
        reports = engine.verify_audit()
    finally:
        engine.close()
    broken = [r for r in reports if not r.ok]
    for r in broken[:20]:
        click.echo(str(r), err=True)
    click.echo(f"audit: {len(reports)} chain(s) checked, {len(broken)} broken")
    sys.exit(1 if broken else 0)
