"""The engine facade: one method per verb, each one command in one transaction (see ``engine.commands``)."""
from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from engine.background.worker import JobRunner
from engine.commands.deadlines import RecomputeProvisionalDeadlines
from engine.commands.deploy import Deploy
from engine.commands.instances import ChangeInstanceStatus, StartInstance
from engine.commands.jobs import RetryIncident, job_view
from engine.commands.messages import CorrelateMessage
from engine.commands.migrate import MigrateInstance
from engine.commands.office import OfficeWrite
from engine.commands.tasks import ClaimTask, CompleteTask
from engine.court import courts
from engine.court.accounts import check_password, roles_of, upsert_user
from engine.court.directory import from_environ as directory_from
from engine.court.directory import has_local_password
from engine.definitions.validation import validate_files, validate_paths
from engine.errors import DefinitionInvalid
from engine.kernel import audit
from engine.kernel.executor import Executor
from engine.legaltime import clock as clocks
from engine.legaltime import holidays
from engine.legaltime.periods import HolidayCalendar
from engine.store import queries
from engine.store.database import create_engine, database_url, upgrade
from engine.workspaces import metrics as case_metrics
from engine.workspaces.admin import Administration
from engine.workspaces.casework import Casework
from engine.workspaces.design import Designer
from engine.workspaces.directory import DirectorySignIn
from engine.workspaces.integration import Integration
from engine.workspaces.lockout import SignIn
from engine.workspaces.public import PublicAccess
from engine.workspaces.supervision import Supervision
from engine.workspaces.tokens import Tokens

CALENDAR_TTL_S = 60.0
GC_THRESHOLDS = (20_000, 20, 20)


def _tune_gc() -> None:
    """Each command allocates thousands of short-lived, cyclic objects (task trees); with Python's default
    gen-0 threshold of 700 the collector would walk the instance cache hundreds of times a second (measured:
    starts/s 129 → 178). Raised once per process, never lowered."""
    if gc.get_threshold()[0] < GC_THRESHOLDS[0]:
        gc.set_threshold(*GC_THRESHOLDS)


class Engine:
    """Everything the web app, the CLI and the simulator may ask of the engine.

    :param url: database URL (default ``DATABASE_URL`` or ``sqlite:///var/zhixing.db``)
    :param clock: a ``Clock`` (default: the system clock); simulation passes a ``VirtualClock``
    :param registry: the handler registry (default ``handlers.REGISTRY`` with the built-in handlers)
    """

    def __init__(self, url: str | None = None, clock: clocks.Clock | None = None, registry=None,
                 worker_id: str | None = None):
        clocks.install()
        _tune_gc()
        if registry is None:
            import handlers.builtin  # noqa: F401  (registers the built-in handlers)
            import handlers.enforcement  # noqa: F401  (registers the enforcement handlers)
            from handlers import REGISTRY as registry
        self.url = database_url(url)
        self.db = create_engine(self.url)
        self.clock = clock or clocks.SystemClock()
        self.registry = registry
        self._calendar: tuple[float, HolidayCalendar] | None = None
        self.executor = Executor(self.db, self.clock, self.calendar)
        self.jobs = JobRunner(self.executor, registry, worker_id)
        self.casework = Casework(self.executor)     # officers' reads and verbs (engine/workspaces/casework.py)
        self.supervision = Supervision(self.executor, self.clock)   # supervisors' reads (workspaces/supervision.py)
        self.design = Designer(self)        # designers' verbs and reads (流程设计): drafts, compare, migrate
        self.admin = Administration(self.executor)   # accounts per court (系统管理, engine/workspaces/admin.py)
        self.tokens = Tokens(self.executor)          # API tokens, stored hashed (engine/workspaces/tokens.py)
        self.public = PublicAccess(self.executor)    # public case progress (执行公开, engine/workspaces/public.py)
        self.integration = Integration(self.executor)   # the REST API's own reads (engine/workspaces/integration.py)
        self.directory: DirectorySignIn | None = None   # directory login (统一身份认证): use_directory()
        self.signin = SignIn(self.executor)          # sign-in log, lockout, session epochs (court/lockout.py)

    # -- schema and reference data -------------------------------------------------------------------------
    def init_schema(self) -> list[int]:
        """Create/upgrade the schema and seed the holiday table; return the holiday years added."""
        upgrade(self.url)
        added = self.executor.run(OfficeWrite(holidays.seed_from_package))
        self._calendar = None              # read again, with the years just added
        return added

    def calendar(self) -> HolidayCalendar:
        """The holiday calendar, re-read from the store at most once a minute (other processes may change it)."""
        cached = self._calendar
        if cached is None or time.monotonic() - cached[0] > CALENDAR_TTL_S:
            cached = (time.monotonic(), self.executor.read(holidays.load))
            self._calendar = cached
        return cached[1]

    def add_holiday_year(self, year: int, rows, source: str = "admin", actor: str = "system") -> int:
        """Store a year's holiday table, then recompute the provisional deadlines on it; return how many."""
        rows = list(rows)
        self.executor.run(OfficeWrite(lambda conn, now: holidays.add_year(conn, year, rows, source, now),
                                      "holidays.year", actor, str(year), data={"source": source, "days": len(rows)}))
        self._calendar = None
        return self.executor.run(RecomputeProvisionalDeadlines())

    def add_user(self, username: str, display_name: str, roles: Iterable[tuple[str, str]] = (),
                 password_hash: str | None = None, actor: str = "system") -> int:
        roles = list(roles)
        return self.executor.run(OfficeWrite(
            lambda conn, now: upsert_user(conn, username, display_name, roles, password_hash, now),
            "account.upsert", actor, username, data={"roles": sorted(map(list, roles))}))

    def add_court(self, code: str, name: str, level: str, parent_code: str | None = None,
                  settings: dict | None = None, actor: str = "system"):
        """Register or update a court (法院) with its local-practice settings."""
        court = self.executor.run(OfficeWrite(
            lambda conn, _now: courts.upsert_court(conn, code, name, level, parent_code, settings),
            "court.upsert", actor, code, code, {"name": name, "level": level, "parent": parent_code,
                                                "settings": settings or {}}))
        self.executor._settings.pop(code, None)
        return court

    def court(self, code: str):
        return self.executor.read(lambda conn: courts.get_court(conn, code))

    def authenticate(self, username: str, password: str) -> int | None:
        """The account's session epoch if ``password`` is the active account's local password, else None (in the
        same time whether the account exists or not; an account without a local password cannot log in here)."""
        return self.executor.read(lambda conn: check_password(conn, username, password))

    def use_directory(self, settings: Mapping[str, str]) -> None:
        """Sign in through the court's directory, from ``ZHIXING_LDAP_*`` settings (none: local accounts only);
        checked now, so a wrong setting or mapping stops the start (engine/court/directory.py)."""
        found = directory_from(settings)
        self.directory = DirectorySignIn(self.executor, found) if found else None

    def sign_in(self, username: str, password: str) -> tuple[str, int] | None:
        """``(account, session epoch)`` to sign in, or None: a local account by its own password only; a name
        without a local password by the directory, if one is in use (raises ``directory.unavailable``,
        ``directory.no_role``)."""
        epoch = self.authenticate(username, password)
        if epoch is not None:
            return username, epoch
        if self.directory is None or self.executor.read(lambda conn: has_local_password(conn, username)):
            return None
        name = self.directory.login(username, password)
        epoch = self.signin.epoch(name) if name else None
        return (name, epoch) if name and epoch is not None else None

    def roles_of(self, username: str) -> list[tuple[str, str]]:
        return self.executor.read(lambda conn: roles_of(conn, username))

    def public_code(self, case_no: str) -> str:
        """The verification code (查询码) a party uses to follow the case at /public; print it on the notice."""
        return self.public.code(case_no)

    # -- definitions ----------------------------------------------------------------------------------------
    def validate(self, files: Mapping[str, bytes]):
        return validate_files(files, registry=self.registry)

    def deploy(self, files: Mapping[str, bytes] | Iterable[str | Path], actor: str = "system"):
        """Deploy a set of files (name → content, or paths/directories); returns a view per process."""
        if isinstance(files, Mapping):
            contents = dict(files)
        else:
            contents, problems = validate_paths(files, registry=self.registry)
            if problems:      # reported with the paths as given, before the store is touched
                raise DefinitionInvalid(problems)
        return self.executor.run(Deploy(contents, actor, self.registry))

    def definitions(self):
        return self.executor.read(queries.deployed)

    # -- instances and tasks --------------------------------------------------------------------------------
    def start(self, process_id: str, case_no: str | None, court: str, data: dict | None = None,
              actor: str = "system", version: int | None = None, parent_id: int | None = None,
              related_case_no: str | None = None, of_case: bool = False, records=()):
        """Start a case; ``case_no=None`` allocates the next number of the process's ``caseType``. A supplied
        number must be official, the court's own and unused; ``related_case_no`` is checked and recorded
        (``engine.court.boundaries``). ``of_case=True`` starts another procedure of an existing case of the same
        court (it keeps the case's number). ``records``: case-file records the filing brings
        (``[{"kind": "clue", "body": {...}}]``), each checked against its kind (engine/store/casefile.py)."""
        return self.executor.run(StartInstance(process_id, case_no, court, actor, dict(data or {}), version,
                                               parent_id, related_case_no=related_case_no, of_case=of_case,
                                               records=tuple(records or ())))

    def complete_task(self, task_id: str, username: str, data: dict | None = None):
        return self.executor.run(CompleteTask(task_id, username, dict(data or {})))

    def claim_task(self, task_id: str, username: str) -> None:
        self.executor.run(ClaimTask(task_id, username))

    def unclaim_task(self, task_id: str, username: str) -> None:
        self.executor.run(ClaimTask(task_id, username, release=True))

    def correlate(self, name: str, key: str, payload: dict | None = None, actor: str = "system",
                  court: str | None = None):
        """Send a message from outside; ``court`` is the sender's court (required: a message reaches only cases of
        that court, see ``engine.court.boundaries``), never a court the payload names."""
        return self.executor.run(CorrelateMessage(name, str(key), actor, dict(payload or {}), court))

    def suspend(self, instance_id: int, actor: str, reason: str):
        return self.executor.run(ChangeInstanceStatus(instance_id, "suspend", actor, reason))

    def resume(self, instance_id: int, actor: str, reason: str):
        return self.executor.run(ChangeInstanceStatus(instance_id, "resume", actor, reason))

    def terminate(self, instance_id: int, actor: str, reason: str):
        return self.executor.run(ChangeInstanceStatus(instance_id, "terminate", actor, reason))

    def migrate_instance(self, instance_id: int, to_version: int, actor: str, from_version: int | None = None,
                         courts: Iterable[str] | None = None, process_id: str | None = None):
        """Move a running case to another version of its procedure, or refuse (``StateError``) with the reasons;
        a case outside ``courts`` or not of ``process_id`` (when given) is ``NotFound``."""
        return self.executor.run(MigrateInstance(instance_id, to_version, actor, from_version,
                                                 tuple(courts) if courts is not None else None, process_id))

    # -- jobs -----------------------------------------------------------------------------------------------
    def run_due_jobs(self, limit: int = 100) -> int:
        return self.jobs.run_due(limit)

    def start_background(self):
        """Tick the worker in a background thread of this process (one machine on SQLite); returns the scheduler."""
        from engine.background.scheduler import start_background
        return start_background(self)

    def stop_background(self, scheduler) -> None:
        """Graceful stop of ``start_background``'s scheduler: no new tick; the running batch of jobs finishes."""
        from engine.background.scheduler import stop_background
        stop_background(scheduler)

    def run_worker(self) -> None:
        """Run the worker in this thread until stopped (a worker process beside the web processes)."""
        from engine.background.scheduler import run_blocking
        run_blocking(self)

    def run_until_idle(self, max_batches: int = 1000) -> int:
        """Run due jobs until none is due (tests, simulation, demo loading)."""
        total = 0
        for _ in range(max_batches):
            n = self.jobs.run_due()
            total += n
            if n == 0:
                break
        return total

    def retry_incident(self, job_id: int, actor: str):
        return self.executor.run(RetryIncident(job_id, actor))

    # -- reads ----------------------------------------------------------------------------------------------
    def tasks(self, **filters):
        return self.executor.read(lambda conn: queries.tasks(conn, **filters))

    def instance(self, instance_id: int):
        return self.executor.read(lambda conn: queries.instance(conn, instance_id))

    def instances_of_case(self, case_no: str):
        return self.executor.read(lambda conn: queries.instances_of_case(conn, case_no))

    def variables(self, instance_id: int) -> dict:
        return self.executor.read(lambda conn: queries.instance_data(conn, instance_id))

    def job_list(self, **filters):
        return [job_view(r) for r in self.executor.read(lambda conn: queries.jobs_list(conn, **filters))]

    def incidents(self):
        return self.job_list(status="incident")

    def inbox(self, status: str = "unmatched"):
        return self.executor.read(lambda conn: queries.inbox(conn, status))

    def events(self, instance_id: int):
        return self.executor.read(lambda conn: queries.event_log(conn, instance_id))

    def metrics(self, court: str, start, end, *, include_subordinates: bool = False,
                process_id: str = case_metrics.PROCESS, list_limit: int = 50):
        """执行质效指标 of a court for the court days ``start``..``end`` (see docs/metrics.md)."""
        return self.executor.read(lambda conn: case_metrics.compute(
            conn, court, start, end, self.clock.now(), include_subordinates=include_subordinates,
            process_id=process_id, list_limit=list_limit))

    def export_log(self, fmt: str, court: str, process_id: str | None, start, end):
        """The execution log of a court's procedure for the court days ``start``..``end`` as XES or OCEL 2.0,
        to be streamed (``engine/workspaces/log_export.py``)."""
        from engine.workspaces.log_export import prepare
        return prepare(self.db, fmt, court, process_id, start, end)

    def verify_audit(self, instance_id: int | None = None):
        """Every case's chain and the office chain (reported as instance 0), or one case's chain."""
        if instance_id is None:
            return [self.executor.read(audit.verify_office)] + self.executor.read(audit.verify_all)
        return [self.executor.read(lambda conn: audit.verify(conn, instance_id))]

    # -- plumbing -------------------------------------------------------------------------------------------
    def close(self) -> None:
        self.db.dispose()
