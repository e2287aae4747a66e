"""The ``zhixing`` command line (documented in docs/cli.md).

Every command turns engine errors into one readable line per problem and a non-zero exit code; no tracebacks.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from engine import DefinitionInvalid, ZhixingError, database_url, validate_paths

ROOT = Path(__file__).resolve().parents[1]


def _engine(**kwargs):
    from engine import Engine
    return Engine(**kwargs)


def friendly(fn):
    """Print engine errors as messages, exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DefinitionInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(1)
        except ZhixingError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except Exception as exc:  # database down, bad file…: one line, not a traceback
            if os.environ.get("ZHIXING_DEBUG"):
                raise
            click.echo(f"error: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", err=True)
            sys.exit(2)

    return wrapper


@click.group()
def main():
    """zhixing (执行): BPMN workflow engine for civil court enforcement. DATABASE_URL selects the store."""


@main.command()
@friendly
def init():
    """Create or upgrade the database schema and seed the holiday table."""
    added = _engine().init_schema()
    click.echo("schema is up to date" + (f"; holiday years added: {added[0]}–{added[-1]}" if added else ""))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@friendly
def validate(paths):
    """Validate diagrams, DMN tables and forms; one line per problem (file:line: element: message)."""
    import handlers.builtin  # noqa: F401
    import handlers.enforcement  # noqa: F401  (registers the enforcement handlers)
    files, problems = validate_paths(paths)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{len(files)} file(s) valid")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--actor", default="cli", help="who deploys (recorded with the deployment)")
@friendly
def deploy(paths, actor):
    """Deploy diagrams as new versions (default: the bpmn/ folder). Unchanged processes are not re-versioned."""
    engine = _engine()
    for view in engine.deploy(list(paths) or [ROOT / "bpmn"], actor=actor):
        click.echo(f"{view.label:<40} {'deployed' if view.created else 'unchanged'}")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--no-scheduler", is_flag=True, help="do not run timers and jobs in this process")
@click.option("--workers", type=int, help="processes (PostgreSQL only; default one per core)")
@click.option("--threads", type=int, help="threads per process (default 8 on SQLite, 4 on PostgreSQL)")
@click.option("--access-log", help="write gunicorn's access log to this file ('-': standard output)")
@friendly
def serve(host, port, no_scheduler, workers, threads, access_log):
    """Serve the web application on gunicorn (with the job scheduler in-process unless --no-scheduler)."""
    from web.serve import serve as run_server
    run_server(host, port, database_url(), scheduler=not no_scheduler,
               workers=workers, threads=threads, access_log=access_log, echo=click.echo)


@main.command()
@friendly
def worker():
    """Run timers, service tasks and message deliveries until stopped (any number may run)."""
    engine = _engine()
    click.echo(f"worker {engine.jobs.worker_id} polling {engine.url.split('@')[-1]}")
    engine.run_worker()


@main.command()
@friendly
def demo():
    """Load demo users and cases (idempotent)."""
    from tools.demo import load_demo
    for line in load_demo(_engine()):
        click.echo(line)


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--quiet", is_flag=True, help="print only failures and the summary")
@friendly
def simulate(scenarios, quiet):
    """Run scenario files against the diagrams on a throw-away database with a virtual clock."""
    from tools.scenarios import run_scenario_file
    failed = 0
    for path in scenarios:
        result = run_scenario_file(Path(path), echo=None if quiet else click.echo)
        failed += not result.ok
        click.echo(f"{'PASS' if result.ok else 'FAIL'} {path}: {result.summary}")
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print the figures as one JSON object on the last line")
@click.option("--quick", is_flag=True, help="smaller runs (under a minute)")
@click.option("--database", help="a PostgreSQL server URL: fresh databases there, and the load test")
@click.option("--instances", type=int, help="instances for the figures at scale (default 2,000 quick, 40,000)")
@click.option("--duration", type=float, help="seconds of the load test (default 20 quick, 300)")
@friendly
def bench(as_json, quick, database, instances, duration):
    """Measure the engine's figures (see docs/benchmarks.md)."""
    from tools.bench import run_all
    from tools.bench_load import run_load
    from tools.bench_rest import measure_rest_start
    figures = run_all(quick=quick, echo=click.echo, database=database, instances=instances, duration=duration,
                      load=run_load, rest=measure_rest_start)
    if as_json:
        click.echo(json.dumps(figures, sort_keys=True))


def _number(value) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


@main.command()
@click.option("--court", required=True, help="court code, e.g. 川0104")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="first court day")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="last court day")
@click.option("--subordinates", is_flag=True, help="include the courts below this one")
@click.option("--process", "process_id", default="enforcement_case", show_default=True, help="the main case process")
@click.option("--list", "list_limit", default=20, show_default=True, help="overdue and idle cases listed")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@friendly
def metrics(court, start, end, subordinates, process_id, list_limit, as_json):
    """执行质效指标: a court's enforcement metrics for a period, each with its numerator and denominator."""
    m = _engine().metrics(court, start.date(), end.date(), include_subordinates=subordinates,
                          process_id=process_id, list_limit=list_limit)
    if as_json:
        click.echo(json.dumps(m.to_dict(), ensure_ascii=False, sort_keys=True))
        return
    click.echo(f"执行质效指标 {', '.join(m.courts)}  {m.start} – {m.end}  (pending counted on {m.as_of})")
    for r in m.ratios:
        value = "n/a" if r.value is None else f"{r.value:.1%}"
        target = "" if r.target is None else f"  target ≥ {r.target:.0%}: {'met' if r.met else 'NOT MET'}"
        parts = ", ".join(f"{k} {v if isinstance(v, int) else '、'.join(v)}" for k, v in r.parts.items())
        click.echo(f"{r.label}  {value}  {r.status}{target}\n"
                   f"    {_number(r.numerator):>16}  {r.counts}\n"
                   f"    {_number(r.denominator):>16}  {r.over}" + (f" ({parts})" if parts else ""))
    stages = ", ".join(f"{stage or '-'} {n}" for stage, n in m.backlog_by_stage.items())
    click.echo(f"pending on {m.as_of} by stage: {stages or 'none'}")
    for cases in (m.overdue, m.idle):
        click.echo(f"{cases.label}: {cases.count}  {cases.status} {cases.rule}")
        for c in cases.cases:
            click.echo(f"    {c.case_no}  {c.court}  {c.stage or '-'}  {c.owner or '-'}  since {c.since}  "
                       f"{c.days} days")
    if m.counts["ended_without_closing"]:
        click.echo(f"left out: {m.counts['ended_without_closing']} instance(s) ended without a closing date")


@main.command("export-log")
@click.option("--format", "fmt", type=click.Choice(["xes", "ocel"]), required=True,
              help="xes: IEEE 1849 XES; ocel: OCEL 2.0 JSON (objects: cases, procedure instances, tasks, people)")
@click.option("--court", required=True, help="court code, e.g. 川0104")
@click.option("--procedure", "process_id", help="only this procedure (process id, e.g. enforcement_case)")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="first court day")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="last court day")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="file (default: stdout)")
@friendly
def export_log(fmt, court, process_id, start, end, output):
    """执行日志 for process mining: the events of a court's cases in a period, as XES or OCEL 2.0 (streamed)."""
    export = _engine().export_log(fmt, court, process_id, start.date(), end.date())
    target = open(output, "w", encoding="utf-8") if output else click.get_text_stream("stdout", encoding="utf-8")
    try:
        for chunk in export.chunks:
            target.write(chunk)
    finally:
        if output:
            target.close()
    click.echo(f"{export.instances:,} procedure instance(s), {export.events:,} event(s), {court} "
               f"{export.start} – {export.end}" + (f" → {output}" if output else ""), err=True)


@main.group()
def audit():
    """The execution log (执行日志)."""


@audit.command("verify")
@click.option("--instance", type=int, help="only this instance")
@friendly
def audit_verify(instance):
    """Recompute every hash chain; exit 1 if any event was altered, removed or reordered."""
    reports = _engine().verify_audit(instance)
    broken = [r for r in reports if not r.ok]
    for report in broken or reports[-20:]:
        click.echo(str(report))
    click.echo(f"{len(reports)} chain(s) checked, {len(broken)} broken")
    sys.exit(1 if broken else 0)


@main.group(invoke_without_command=True)
@click.pass_context
def incidents(ctx):
    """List incidents (failed jobs whose retries ran out)."""
    if ctx.invoked_subcommand is None:
        _list_incidents()


@friendly
def _list_incidents():
    for job in _engine().incidents():
        click.echo(f"#{job.id} instance {job.instance_id} {job.bpmn_id} ({job.operator or job.kind}) "
                   f"attempts {job.attempts}: {job.last_error}")


@incidents.command("retry")
@click.argument("job_id", type=int)
@click.option("--actor", default="cli")
@friendly
def incidents_retry(job_id, actor):
    """Put an incident's job back in the queue."""
    job = _engine().retry_incident(job_id, actor)
    click.echo(f"job #{job.id} is {job.status} again")


@main.command()
@friendly
def messages():
    """List messages that matched no waiting instance and no message start event (kept, never dropped)."""
    for msg in _engine().inbox():
        click.echo(f"#{msg.id} {msg.received_at:%Y-%m-%d %H:%M} {msg.name} key={msg.correlation_key} "
                   f"from {msg.source} ({msg.court or 'no court'}): {json.dumps(msg.payload, ensure_ascii=False)}")


@main.command("holidays")
@click.argument("year", type=int)
@click.argument("table", type=click.Path(exists=True))
@friendly
def holidays_cmd(year, table):
    """Store a year's holiday table: a file of lines 'YYYY-MM-DD off|work name' (State Council schedule)."""
    from datetime import date
    rows = []
    for n, line in enumerate(Path(table).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2 or parts[1] not in ("off", "work"):
            raise ZhixingError(f"{table}:{n}: expected 'YYYY-MM-DD off|work name'")
        rows.append((date.fromisoformat(parts[0]), parts[1] == "off", parts[2] if len(parts) > 2 else ""))
    _engine().add_holiday_year(year, rows, source=Path(table).name)
    click.echo(f"{year}: {len(rows)} day(s) stored; deadlines in {year} are no longer provisional")


@main.command("user")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--role", "roles", multiple=True, help="COURT:ROLE, repeatable (e.g. J0104:command_centre)")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@friendly
def user_cmd(username, display_name, roles, password):
    """Create or update a user and their roles per court."""
    from werkzeug.security import generate_password_hash
    grants = [tuple(r.split(":", 1)) for r in roles]
    if any(len(g) != 2 for g in grants):
        raise ZhixingError("--role takes COURT:ROLE")
    _engine().add_user(username, display_name, grants, generate_password_hash(password))
    click.echo(f"user {username} saved with {len(grants)} role(s)")


@main.group()
def token():
    """API tokens (接口令牌) for /api/v1: a token acts as its user, within the roles and courts it is given."""


@token.command("create")
@click.argument("username")
@click.option("--name", required=True, help="which system uses the token")
@click.option("--role", "roles", multiple=True, help="only this role (repeatable; default: all the user's roles)")
@click.option("--court", "courts", multiple=True, help="only this court (repeatable; default: all the user's)")
@click.option("--days", type=int, help="expires after this many days (default: never)")
@click.option("--actor", default="cli", help="who creates it (recorded with the token)")
@friendly
def token_create(username, name, roles, courts, days, actor):
    """Create a token; its secret is printed this once (only its hash is stored)."""
    view, secret = _engine().tokens.create(username, name, actor, roles, courts, days)
    click.echo(f"token #{view.id} for {username} ({view.name}); shown this once, keep it safe:", err=True)
    click.echo(secret)


@token.command("list")
@click.option("--user", "username", help="only this user's tokens")
@friendly
def token_list(username):
    """List tokens (never their secrets), newest first."""
    engine = _engine()
    now = engine.clock.now()
    for t in engine.tokens.list(username=username):
        state = "revoked" if t.revoked_at else "active" if t.active(now) else "expired"
        scope = f"{','.join(t.courts) or 'all courts'} / {','.join(t.roles) or 'all roles'}"
        used = f"last used {t.last_used_at:%Y-%m-%d %H:%M} UTC" if t.last_used_at else "never used"
        click.echo(f"#{t.id} {t.username} {t.name!r} {t.hint}… {scope} {state}, {used}")


@token.command("revoke")
@click.argument("token_id", type=int)
@click.option("--actor", default="cli")
@friendly
def token_revoke(token_id, actor):
    """Revoke a token: it stops working at once."""
    view = _engine().tokens.revoke(token_id, actor)
    click.echo(f"token #{view.id} of {view.username} ({view.name}) revoked")


@main.group()
def directory():
    """Directory login (统一身份认证): check the ZHIXING_LDAP_* settings (docs/deployment.md)."""


@directory.command("check")
@click.argument("username", required=False)
@friendly
def directory_check(username):
    """Check the settings and the mapping, reach each server; with USERNAME (asks the password), show the
    user's entry, groups and the roles a login would give, without changing the account."""
    engine = _engine()
    engine.use_directory(os.environ)
    found = engine.directory
    if found is None:
        raise ZhixingError("ZHIXING_LDAP_URL is not set: directory login is off, local accounts only")
    pairs = found.managed()
    click.echo(f"mapping: {len(pairs)} (court, role) pair(s) set by the directory: "
               + ", ".join(f"{c}:{r}" for c, r in pairs))
    failed = False
    for url, problem in found.reach():
        click.echo(f"{url}: {problem or 'ok'}")
        failed |= problem is not None
    if username:
        person = found.lookup(username, click.prompt("password", hide_input=True))
        click.echo(f"{person.dn}: zhixing user {person.username!r}, name {person.display_name!r}")
        for dn in person.groups:
            click.echo(f"  group {dn}")
        click.echo("  roles: " + (", ".join(f"{c}:{r}" for c, r in sorted(person.grants)) or "none (cannot sign in "
                                  "unless an administrator granted a role the mapping does not name)"))
    sys.exit(1 if failed else 0)
@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@friendly
def backup(path):
    """Copy the database (online, while the server and workers run), its sandbox memory and the documents into
    the new directory PATH. On PostgreSQL the database part is pg_dump's."""
    from web import cli_backup
    cli_backup.backup(path)


@main.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="overwrite a database that holds cases or that a process has open")
@click.option("--no-verify", is_flag=True, help="skip the audit verification of the restored database")
@friendly
def restore(path, force, no_verify):
    """Bring the backup in PATH back into DATABASE_URL (and the sandbox memory and the documents), then verify
    the execution log's hash chains. Refuses a database with cases, or in use, unless --force."""
    from web import cli_backup
    cli_backup.restore(path, force, no_verify)
