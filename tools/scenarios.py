"""``zhixing simulate``: run a scenario (YAML) against diagrams on a throw-away database with a virtual clock.

A scenario deploys diagrams, creates users, files cases, moves the clock, completes tasks, sends messages and
checks what the engine did; the trace shows every step and its effects in Beijing time. The format is documented
in docs/scenarios.md. Mistakes in the file are reported as ``file:line: message`` before anything runs; an unmet
expectation, or an engine error no step expected, fails the scenario (``ok`` False), never with a traceback.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import monotonic

import sqlalchemy as sa
import yaml

from engine.api import Engine
from engine.court.roles import ROLES, role_for_lane
from engine.errors import DefinitionInvalid, NotFound, StateError, ZhixingError
from engine.legaltime.clock import VirtualClock
from engine.legaltime.periods import COURT_TZ, deadline_day, parse_period
from engine.store.tables import events as events_table
from handlers.base import BusinessRejection, Retryable
from handlers.registry import HandlerSpec, Registry

REPO_BPMN = Path(__file__).resolve().parents[1] / "bpmn"
DEFAULT_START = "2026-03-02T09:00+08:00"           # a Monday morning in Beijing
MAX_ROUNDS = 10_000                                # moments at which jobs fall due within one `advance`
ALL = 100_000                                      # "no limit" for list queries


@contextlib.contextmanager
def _sandbox_dirs(root: Path):
    """The sandbox adapters keep state (freezes, ledgers, documents) in directories named by the environment: a
    simulation gets fresh ones, so a run never sees what an earlier run left."""
    saved = {name: os.environ.get(name) for name in ("ZHIXING_SANDBOX_DIR", "ZHIXING_DOCUMENT_DIR")}
    os.environ["ZHIXING_SANDBOX_DIR"] = str(root / "sandbox")
    os.environ["ZHIXING_DOCUMENT_DIR"] = str(root / "documents")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class ScenarioResult:
    ok: bool
    summary: str
    trace: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class ScenarioError(Exception):
    """A mistake in the scenario file itself, at a line."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line


class Failure(Exception):
    """A step whose expectation was not met (or whose action could not be done)."""


# -- YAML with line numbers ----------------------------------------------------------------------------------------
class _Map(dict):
    """A mapping that remembers its line and the line of each key (1-based; None for dicts given by code)."""

    def __init__(self, items=(), line: int | None = None):
        super().__init__(items)
        self.line, self.lines = line, {}

    def at(self, key) -> int | None:
        return self.lines.get(key, self.line)


MAX_SCENARIO_BYTES = 256 * 1024     # the largest scenario of the repository is ~12 KB


class _Loader(yaml.SafeLoader):
    """Safe YAML whose mappings carry line numbers; timestamps stay text (read here, in Beijing time); no
    aliases: nested ``*name`` references made a 566-byte scenario grow the server from 155 MB to 1.5 GB."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a scenario; write "
                                              "the value out", mark)
        return super().compose_node(parent, index)


def too_large(source) -> str | None:
    """Why a scenario text is refused before it is read, or None."""
    if isinstance(source, str) and len(source.encode("utf-8", "surrogatepass")) > MAX_SCENARIO_BYTES:
        return f"the scenario is larger than {MAX_SCENARIO_BYTES // 1024} KB; split it"
    return None


_Loader.yaml_implicit_resolvers = {c: [r for r in rs if r[0] != "tag:yaml.org,2002:timestamp"]
                                   for c, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _construct_map(loader, node) -> _Map:
    loader.flatten_mapping(node)
    out = _Map(line=node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key, line = loader.construct_object(key_node, deep=True), key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) or key in out:
            raise ScenarioError(line, f"duplicate key '{key}'" if key in out else "a key must be plain text")
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _construct_seq(loader, node) -> list:
    items = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    items.lines = [child.start_mark.line + 1 for child in node.value]
    return items


class _Seq(list):
    lines: list = []


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _wrap(obj):
    """Dicts given by code become ``_Map`` (without lines) so both inputs read the same way."""
    if isinstance(obj, dict):
        return obj if isinstance(obj, _Map) else _Map({k: _wrap(v) for k, v in obj.items()})
    return [_wrap(v) for v in obj] if isinstance(obj, list) else obj


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return [_plain(v) for v in obj] if isinstance(obj, list) else obj


# -- values: moments, durations, display ---------------------------------------------------------------------------
def parse_moment(text) -> tuple[datetime, bool]:
    """``2026-03-09`` (that day, 09:00 Beijing; the flag says 'date only'), ``2026-03-09 17:30`` (Beijing) or
    ``2026-03-09T17:30+08:00``."""
    s = str(text).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return datetime.combine(date.fromisoformat(s), time(9), COURT_TZ), True
        if re.match(r"\d{4}-\d{2}-\d{2}[T ]\d", s):
            moment = datetime.fromisoformat(s)
            return (moment if moment.tzinfo else moment.replace(tzinfo=COURT_TZ)), False
    except ValueError:
        pass
    raise ValueError(f"bad date/time {text!r}: expected 2026-03-09, 2026-03-09 17:30 or 2026-03-09T17:30+08:00")


_ISO = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_WORDS = re.compile(r"(\d+)\s*(week|day|hour|minute|second)s?")


def parse_duration(text) -> timedelta:
    """An exact length of time: ``P11D``, ``PT5S``, ``P1DT2H``, ``3 days``, ``90 minutes``, ``10日``, ``24小时``."""
    s = str(text).strip()
    m = _ISO.fullmatch(s.upper())
    if m and any(m.groups()):
        weeks, days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
        return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if m := _WORDS.fullmatch(s.lower()):
        return timedelta(**{m[2] + "s": int(m[1])})
    try:
        period = parse_period(s)
    except ValueError:
        period = None
    if period and period.unit in ("weeks", "days", "hours", "minutes", "seconds"):
        return timedelta(**{period.unit: period.amount})
    raise ValueError(f"bad duration {text!r}: expected P11D, PT5S, P1DT2H, '3 days', '90 minutes', 10日 "
                     "(months and working days have no fixed length: advance to a date instead)")


def _local(moment: datetime) -> str:
    return moment.astimezone(COURT_TZ).strftime("%Y-%m-%d %a %H:%M:%S")


def _last_day(due: datetime) -> date:
    """The local day a deadline belongs to: 24:00 (00:00 of the next day) counts as the day before."""
    return deadline_day(due)[0]


def _due_text(due: datetime | None, provisional: bool = False) -> str:
    if due is None:
        return ""
    day, at = deadline_day(due)
    text = f"{day:%Y-%m-%d %a} 24:00" if at is None else f"{day:%Y-%m-%d %a} {at:%H:%M}"
    return f", due {text}" + (" (provisional)" if provisional else "")


def _show(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# -- handlers defined by the scenario ------------------------------------------------------------------------------
class _AnyParams(HandlerSpec):
    """A scenario handler accepts whatever parameters the diagram passes."""

    def parameter_problems(self, given: set[str]) -> list[str]:
        return []


def _scenario_handler(name: str, spec: dict):
    attempts: Counter = Counter()

    def run(ctx, **params):
        attempts[ctx.idempotency_key] += 1          # `fail: N` counts per service task run (idempotency key)
        if spec.get("reject"):
            raise BusinessRejection(str(spec["reject"]))
        if attempts[ctx.idempotency_key] <= spec.get("fail", 0):
            raise Retryable(spec.get("error") or f"simulated failure {attempts[ctx.idempotency_key]} of "
                                                  f"{spec['fail']}")
        return _plain(spec.get("result") or {})

    return _AnyParams(name, run)


def _counting(spec: HandlerSpec, calls: Counter) -> HandlerSpec:
    def run(ctx, **params):
        calls[spec.name] += 1
        return spec.func(ctx, **params)

    return type(spec)(spec.name, run, spec.inputs, spec.optional, spec.description, records=spec.records)


# -- the scenario, parsed and checked before it runs ---------------------------------------------------------------
@dataclass
class Step:
    kind: str
    args: dict
    line: int | None
    number: int


@dataclass
class Scenario:
    name: str
    file: str
    start: datetime
    court: str | None
    deploy: list
    handlers: dict
    users: dict
    auto_jobs: bool
    description: str = ""
    steps: list = field(default_factory=list)

    def where(self, line: int | None) -> str:
        return f"{self.file}:{line}" if line else self.file


@dataclass(frozen=True)
class StepKind:
    run: Callable
    required: tuple = ()
    optional: tuple = ()
    shorthand: str | None = None   # the field a plain value fills: `retry: notify` means `retry: {task: notify}`
    parse: Callable | None = None  # a parser of its own instead of the field rules
    action: bool = True            # changes the cases: due jobs run after it (unless `jobs: manual`)


TOP_LEVEL = ("name", "description", "start", "court", "deploy", "handlers", "users", "jobs", "steps")
HANDLER_KEYS = ("result", "fail", "reject", "error")
USER_FIELDS = {"complete", "claim", "unclaim"}     # steps whose `as` must be a user of the scenario


def parse_scenario(doc, file: str, base_dir: Path) -> Scenario:
    if not isinstance(doc, _Map):
        raise ScenarioError(1, "a scenario is a mapping with at least `steps:`")
    for key in doc:
        if key not in TOP_LEVEL:
            raise ScenarioError(doc.at(key), f"unknown key '{key}' (known: {', '.join(TOP_LEVEL)})")
    if not isinstance(doc.get("steps"), list) or not doc["steps"]:
        raise ScenarioError(doc.at("steps"), "`steps:` must be a non-empty list")
    try:
        start = parse_moment(doc.get("start", DEFAULT_START))[0]
    except ValueError as exc:
        raise ScenarioError(doc.at("start"), str(exc)) from None
    if doc.get("jobs", "auto") not in ("auto", "manual"):
        raise ScenarioError(doc.at("jobs"), "`jobs:` is auto (default) or manual")
    court = str(doc["court"]) if doc.get("court") else None
    deploy = doc.get("deploy", [str(REPO_BPMN)])
    paths = [(base_dir / str(p)).resolve() for p in ([deploy] if isinstance(deploy, str) else deploy or [])]
    for path in paths:
        if not path.exists():
            raise ScenarioError(doc.at("deploy"), f"deploy: {path} does not exist")
    sc = Scenario(str(doc.get("name") or Path(file).stem), file, start, court, paths,
                  _parse_handlers(doc.get("handlers") or _Map(), doc.at("handlers")), {}, doc.get("jobs") != "manual")
    sc.description = str(doc.get("description") or "").strip()
    sc.users = _parse_users(doc.get("users") or _Map(), doc.at("users"), court)
    lines = getattr(doc["steps"], "lines", [])
    sc.steps = [_parse_step(raw, n, sc, lines[n - 1] if lines else None) for n, raw in enumerate(doc["steps"], 1)]
    return sc


def _parse_handlers(raw, line) -> dict:
    if not isinstance(raw, dict):
        raise ScenarioError(line, "`handlers:` maps an operator name to {result:, fail:, reject:}")
    out = {}
    for name, spec in raw.items():
        spec = spec if spec is not None else _Map()
        bad = [k for k in spec if k not in HANDLER_KEYS] if isinstance(spec, dict) else ["(not a mapping)"]
        if bad or not isinstance(spec.get("fail", 0), int) or not isinstance(spec.get("result") or {}, dict):
            raise ScenarioError(raw.at(name), f"handler '{name}': expected {{result: {{...}}, fail: N, reject: "
                                              f"text, error: text}}" + (f"; unknown {bad}" if bad else ""))
        out[str(name)] = spec
    return out


def _parse_users(raw, line, court) -> dict:
    if not isinstance(raw, dict):
        raise ScenarioError(line, "`users:` maps a user name to {name: 显示名, roles: [COURT:role]}")
    users = {}
    for username, spec in raw.items():
        spec = _Map({"roles": spec}) if isinstance(spec, list) else spec
        if not isinstance(spec, dict) or not isinstance(spec.get("roles", []), list):
            raise ScenarioError(raw.at(username), f"user '{username}': expected {{name: ..., roles: [COURT:role]}}")
        grants = []
        for grant in spec.get("roles", []):
            where, _, role = str(grant).rpartition(":")
            code = role_for_lane(role)
            if code is None or not (where or court):
                raise ScenarioError(raw.at(username), f"user '{username}': bad role '{grant}': expected COURT:role "
                                    f"(or a role alone with a top-level court:), role one of {', '.join(ROLES)}")
            grants.append((where or court, code))
        users[str(username)] = (str(spec.get("name") or username), grants)
    return users


def _parse_step(raw, number: int, sc: Scenario, line: int | None = None) -> Step:
    line = getattr(raw, "line", line)
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ScenarioError(line, f"step {number}: a step is one mapping like `complete: {{task: ..., as: ...}}`"
                                  f" (kinds: {', '.join(STEPS)})")
    kind = next(iter(raw))
    if kind not in STEPS:
        raise ScenarioError(line, f"step {number}: unknown step '{kind}' (kinds: {', '.join(STEPS)})")
    spec, value, at = STEPS[kind], raw[kind], raw.at(kind)
    args = spec.parse(value, at, sc) if spec.parse else _parse_fields(kind, spec, value, at, sc)
    return Step(kind, args, line, number)


def _parse_fields(kind: str, spec: StepKind, value, line, sc: Scenario) -> dict:
    if not isinstance(value, dict):
        if spec.shorthand is None or value is None or isinstance(value, list):
            raise ScenarioError(line, f"{kind}: expected fields {', '.join(spec.required + spec.optional)}")
        value = _Map({spec.shorthand: value}, line)
    args = {}
    for key, v in value.items():
        where = value.at(key)
        if key not in spec.required + spec.optional:
            raise ScenarioError(where, f"{kind}: unknown field '{key}' (fields: "
                                       f"{', '.join(spec.required + spec.optional)})")
        if key == "data" and not isinstance(v, dict):
            raise ScenarioError(where, f"{kind}: data must be a mapping of field: value")
        if key == "version" and not isinstance(v, int):
            raise ScenarioError(where, f"{kind}: version must be a whole number")
        if key == "records" and not (isinstance(v, list) and all(isinstance(r, Mapping) for r in v)):
            raise ScenarioError(where, f"{kind}: records must be a list of {{kind: …, body: {{…}}}}")
        if key not in ("data", "version", "records") and (isinstance(v, (dict, list)) or v is None):
            raise ScenarioError(where, f"{kind}: {key} must be a single value")
        if key == "as" and kind in USER_FIELDS and str(v) not in sc.users:
            raise ScenarioError(where, f"{kind}: unknown user '{v}' (users: {', '.join(sc.users) or 'none'})")
        args[key] = _plain(v) if key in ("data", "version", "records") else str(v)
    missing = [k for k in spec.required if k not in args]
    if missing:
        raise ScenarioError(line, f"{kind}: missing field(s) {', '.join(missing)}")
    if kind == "start" and not (args.get("court") or sc.court):
        raise ScenarioError(line, "start: say court: here or at the top of the scenario")
    return args


def _parse_advance(value, line, sc) -> dict:
    try:
        if re.match(r"\d{4}-", str(value)):
            return {"to": parse_moment(value)[0], "text": str(value)}
        return {"by": parse_duration(value), "text": str(value)}
    except ValueError as exc:
        raise ScenarioError(line, f"advance: {exc}") from None


def _parse_true(value, line, sc) -> dict:
    if value is not True:
        raise ScenarioError(line, "run_jobs: write `run_jobs: true`")
    return {}


def _parse_note(value, line, sc) -> dict:
    return {"text": str(value)}


def _parse_expect(value, line, sc) -> dict:
    if not isinstance(value, dict) or not value:
        raise ScenarioError(line, f"expect: expected a mapping of checks ({', '.join(EXPECTATIONS)}, case)")
    args = {"case": str(value["case"])} if "case" in value else {}
    args["shown"] = ", ".join(f"{k} {_show(_plain(v))}" for k, v in value.items())
    for key, want in value.items():
        if key == "case":
            continue
        if key not in EXPECTATIONS:
            raise ScenarioError(value.at(key), f"expect: unknown check '{key}' (checks: {', '.join(EXPECTATIONS)})")
        try:
            args[key] = EXPECTATIONS[key][0](want, sc)
        except (ValueError, TypeError) as exc:
            raise ScenarioError(value.at(key), f"expect {key}: {exc}") from None
    return args


def _parse_expect_error(value, line, sc) -> dict:
    keys = list(value) if isinstance(value, dict) else []
    actions = [k for k in keys if k in STEPS and STEPS[k].action and k != "expect_error"]
    if len(actions) != 1 or set(keys) - {actions[0], "contains", "error"} or not {"contains", "error"} & set(keys):
        kinds = ", ".join(k for k in STEPS if STEPS[k].action and k != "expect_error")
        raise ScenarioError(line, "expect_error: expected {<action>: {...}, contains: \"text\"} (and/or error: "
                                  f"Forbidden) with one action: {kinds}")
    inner = _parse_step(_Map({actions[0]: value[actions[0]]}, value.at(actions[0])), 0, sc)
    return {"step": inner, "contains": str(value.get("contains", "")), "error": str(value.get("error", ""))}


# -- running ------------------------------------------------------------------------------------------------------
EVENT_TEXT = {
    "instance_started": "case started ({definition})", "instance_completed": "case completed",
    "instance_terminated": "case terminated", "instance_suspend": "suspended by {actor}: {reason}",
    "instance_resume": "resumed by {actor}: {reason}", "instance_terminate": "terminated by {actor}: {reason}",
    "task_completed": "{bpmn_id} completed by {actor}", "task_claimed": "{bpmn_id} claimed by {actor}",
    "task_unclaimed": "{bpmn_id} released by {actor}", "service_completed": "service {bpmn_id} ({operator}) done",
    "job_failed": "{bpmn_id} failed (attempt {attempt}): {error}; will retry",
    "incident_opened": "INCIDENT at {bpmn_id} (attempt {attempt}): {error}",
    "incident_retried": "incident at {bpmn_id} retried by {actor}", "timer_fired": "timer {bpmn_id} fired",
    "message_thrown": "message {name} sent to {key}", "message_received": "message {name} received",
}


class Simulation:
    """Runs a scenario on a throw-away database, or, with ``database_url``, into a real one (the demo data of
    ``zhixing demo`` is made this way: real cases through the real diagrams, on a virtual clock that ends now)."""

    def __init__(self, sc: Scenario, echo: Callable[[str], object] | None = None, database_url: str | None = None):
        self.sc, self.echo, self.database_url = sc, echo, database_url
        self.clock = VirtualClock(sc.start)
        self.trace: list[str] = []
        self.calls: Counter = Counter()
        self.current: str | None = None
        self.cases: list[str] = []
        self.seen_event, self.open_tasks, self.timers, self.deliveries = 0, {}, {}, {}

    def run(self) -> list[str]:
        """Run every step; return the failures (empty when the scenario passed)."""
        with tempfile.TemporaryDirectory(prefix="zhixing-sim-") as tmp, \
                (contextlib.nullcontext() if self.database_url else _sandbox_dirs(Path(tmp))):
            url = self.database_url or f"sqlite:///{Path(tmp) / 'sim.db'}"
            self.engine = Engine(url, clock=self.clock, registry=self._registry())
            try:
                self._setup()
                for step in self.sc.steps:
                    self._run_step(step)
                broken = [str(r) for r in self.engine.verify_audit() if not r.ok]
                if broken:
                    raise Failure(f"{self.sc.file}: audit chain broken: {'; '.join(broken)}")
            except Failure as exc:
                self.say(f"FAILED {exc}")
                return [str(exc)]
            finally:
                self.engine.close()
        return []

    def say(self, text: str, at: datetime | None = None) -> None:
        line = f"{_local(at or self.clock.now())}  {text}"
        self.trace.append(line)
        if self.echo:
            self.echo(line)

    def _registry(self) -> Registry:
        import handlers.builtin  # noqa: F401  (registers the built-in handlers)
        import handlers.enforcement  # noqa: F401  (registers the enforcement handlers)
        from handlers import REGISTRY
        registry = Registry()
        for spec in [*REGISTRY, *(_scenario_handler(n, s) for n, s in self.sc.handlers.items())]:
            registry.register(_counting(spec, self.calls))
        return registry

    def _setup(self) -> None:
        about = f": {self.sc.description}" if self.sc.description else ""
        self.say(f"scenario {self.sc.name} ({self.sc.file}){about}")
        try:
            self.engine.init_schema()
            views = self.engine.deploy(self.sc.deploy, actor="simulation")
        except DefinitionInvalid as exc:
            raise Failure(f"{self.sc.file}: the diagrams do not deploy: "
                          + "; ".join(map(str, exc.problems))) from None
        except Exception as exc:
            if os.environ.get("ZHIXING_DEBUG"):
                raise
            raise Failure(f"{self.sc.file}: cannot set up the simulation: {type(exc).__name__}: {exc}") from None
        self.say("deployed " + (", ".join(v.label for v in views) or "nothing (no diagrams found)"))
        for username, (name, grants) in self.sc.users.items():
            self.engine.add_user(username, name, grants)
        if self.sc.users:
            self.say("users " + ", ".join(f"{u} ({', '.join(f'{c}:{r}' for c, r in g)})"
                                          for u, (_n, g) in self.sc.users.items()))

    def _run_step(self, step: Step) -> None:
        kind = STEPS[step.kind]
        self.say(f"{step.number:>2}. {describe(step)}")
        try:
            kind.run(self, step.args)
            if kind.action and self.sc.auto_jobs:
                self.run_jobs()
        except Failure as exc:
            raise Failure(f"{self.sc.where(step.line)}: step {step.number} ({step.kind}): {exc}") from None
        except ZhixingError as exc:
            raise Failure(f"{self.sc.where(step.line)}: step {step.number} ({step.kind}): "
                          f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:
            if os.environ.get("ZHIXING_DEBUG"):
                raise
            raise Failure(f"{self.sc.where(step.line)}: step {step.number} ({step.kind}): unexpected error "
                          f"{type(exc).__name__}: {exc}") from None
        finally:
            self.report()

    # -- jobs and the trace of what happened ----------------------------------------------------------------------
    def run_jobs(self) -> None:
        self.engine.run_until_idle()
        stuck = [j for j in self.engine.job_list(status="ready") if j.due_at <= self.clock.now()]
        if stuck:
            raise Failure(f"job #{stuck[0].id} ({stuck[0].kind} {stuck[0].bpmn_id}) is due but never finishes")

    def run_jobs_until(self, target: datetime) -> None:
        """Move the clock from due job to due job up to ``target``, as a worker would run them."""
        for _ in range(MAX_ROUNDS):
            due = [j.due_at for j in self.engine.job_list(status="ready", limit=ALL) if j.due_at <= target]
            if not due:
                return
            self.clock.set(max(self.clock.now(), min(due)))
            self.run_jobs()
            self.report()
        raise Failure(f"jobs kept falling due: stopped after {MAX_ROUNDS} rounds (a loop in the diagram?)")

    def report(self) -> None:
        """Trace the events logged since the last report, the tasks opened/closed and the timers set."""
        rows = self.engine.executor.read(lambda conn: conn.execute(
            sa.select(events_table).where(events_table.c.id > self.seen_event).order_by(events_table.c.id)).all())
        self.seen_event = rows[-1].id if rows else self.seen_event
        for r in rows:
            fields = defaultdict(lambda: "?", r.data or {}, actor=r.actor, bpmn_id=r.bpmn_id)
            text = EVENT_TEXT.get(r.action, r.action).format_map(fields)
            self.say(f"      {r.case_no}: {text}", r.at)
        tasks = {t.task_id: t for t in self.engine.tasks(limit=ALL)}
        completed = {r.task_id for r in rows if r.action == "task_completed"}
        for tid in self.open_tasks.keys() - tasks.keys() - completed:
            self.say(f"      {self.open_tasks[tid].case_no}: task {self.open_tasks[tid].bpmn_id} closed")
        for tid in tasks.keys() - self.open_tasks.keys():
            t = tasks[tid]
            self.say(f"      {t.case_no}: task {t.bpmn_id} '{t.name}' opened for {t.role}"
                     f"{_due_text(t.due_at, t.due_provisional)}")
        timers = {j.id: j for j in self.engine.job_list(kind="timer", limit=ALL)}
        fired = {(r.instance_id, r.bpmn_id) for r in rows if r.action == "timer_fired"}
        for jid in self.timers.keys() - timers.keys():
            gone = self.timers[jid]
            if (gone.instance_id, gone.bpmn_id) not in fired:
                self.say(f"      {self._case_of(gone.instance_id)}: timer {gone.bpmn_id} cancelled")
        for jid in timers.keys() - self.timers.keys():
            self.say(f"      {self._case_of(timers[jid].instance_id)}: timer {timers[jid].bpmn_id} set"
                     f"{_due_text(timers[jid].due_at)}")
        self.open_tasks, self.timers = tasks, timers
        self._report_deliveries()

    def _report_deliveries(self) -> None:
        """Message deliveries belong to no case until delivered, so their failures are in no case's log."""
        jobs = self.engine.job_list(kind="message", limit=ALL)
        for job in jobs:
            if job.attempts > self.deliveries.get(job.id, 0):
                state = "INCIDENT" if job.status == "incident" else "will retry"
                self.say(f"      message {job.bpmn_id} not delivered (attempt {job.attempts}, {state}): "
                         f"{job.last_error}")
        self.deliveries = {job.id: job.attempts for job in jobs}

    # -- lookups ----------------------------------------------------------------------------------------------------
    def case(self, args: dict) -> str:
        case = args.get("case") or self.current
        if case is None:
            raise Failure("no case yet: start one first, or say case:")
        return case

    def instances(self, case: str) -> list:
        found = self.engine.instances_of_case(case)
        if not found:
            raise NotFound(f"there is no case {case}")
        return found

    def task(self, args: dict):
        case = self.case(args)
        found = [t for t in self.engine.tasks(case_no=case, limit=ALL) if t.bpmn_id == args["task"]]
        if len(found) != 1:
            open_ = sorted(t.bpmn_id for t in self.engine.tasks(case_no=case, limit=ALL))
            raise NotFound(f"task {args['task']} is {'open more than once' if found else 'not open'} on case {case}"
                          f" (open: {', '.join(open_) or 'none'})")
        return found[0]

    def _case_of(self, instance_id: int) -> str:
        return self.engine.instance(instance_id).case_no

    def started(self, case: str) -> None:
        self.current = case
        self.cases += [case] if case not in self.cases else []


def describe(step: Step) -> str:
    a = dict(step.args)
    if step.kind == "expect_error":
        return f"expect_error ({describe(a['step'])}) {a['error']} {_show(a['contains'])}".replace("  ", " ")
    if step.kind in ("advance", "note"):
        return f"{step.kind} {a['text']}"
    if step.kind == "expect":
        return "expect " + (a["shown"] if len(a["shown"]) < 160 else a["shown"][:157] + "...")
    head = [str(a.pop(f)) for f in ("process", "task", "name", "case", "reason") if f in a]
    return " ".join([step.kind, *head, *(f"{k} {v}" if k != "data" else _show(v) for k, v in a.items())])


def _plain(value):
    """YAML values as the engine takes them: dates as ISO text (a record's dates are text)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# -- step kinds ---------------------------------------------------------------------------------------------------
def _start(sim: Simulation, a: dict) -> None:
    # a start on a case that exists already starts another procedure of it (same court only: the engine checks)
    sim.engine.start(a["process"], a["case"], a.get("court") or sim.sc.court, a.get("data"),
                     actor=a.get("as", "system"), version=a.get("version"),
                     of_case=bool(sim.engine.instances_of_case(a["case"])), records=_plain(a.get("records") or []))
    sim.started(a["case"])


def _complete(sim: Simulation, a: dict) -> None:
    sim.engine.complete_task(sim.task(a).task_id, a["as"], a.get("data"))


def _claim(sim: Simulation, a: dict) -> None:
    sim.engine.claim_task(sim.task(a).task_id, a["as"])


def _unclaim(sim: Simulation, a: dict) -> None:
    sim.engine.unclaim_task(sim.task(a).task_id, a["as"])


def _message(sim: Simulation, a: dict) -> None:
    key = a.get("key") or sim.case({})
    result = sim.engine.correlate(a["name"], key, a.get("data"), actor=a.get("as", "system"),
                                  court=a.get("court") or sim.sc.court)
    if result.status == "started":      # the new case may have its own number (执异, 执恢): follow it
        for instance_id in result.instance_ids:
            sim.started(sim.engine.instance(instance_id).case_no)
    elif result.status == "unmatched":
        sim.say(f"      no case waits for {a['name']} {key}: kept in the inbox")


def _retry(sim: Simulation, a: dict) -> None:
    case = sim.case(a)
    ids = {i.id for i in sim.instances(case)}
    jobs = [j for j in sim.engine.incidents() if j.instance_id in ids and j.bpmn_id == a["task"]]
    if not jobs:
        raise NotFound(f"no incident at {a['task']} on case {case}")
    for job in jobs:
        sim.engine.retry_incident(job.id, a.get("as", "supervisor"))


def _change_status(action: str) -> Callable:
    def run(sim: Simulation, a: dict) -> None:
        getattr(sim.engine, action)(sim.instances(sim.case(a))[0].id, a.get("as", "supervisor"), a["reason"])
    return run


def _advance(sim: Simulation, a: dict) -> None:
    target = a["to"] if "to" in a else sim.clock.now() + a["by"]
    if target < sim.clock.now():
        raise Failure(f"cannot go back in time to {_local(target)}")
    if sim.sc.auto_jobs:
        sim.run_jobs_until(target)
    sim.clock.set(target)
    sim.say(f"    now {_local(target)}")


def _run_jobs_step(sim: Simulation, a: dict) -> None:
    sim.run_jobs()


def _note(sim: Simulation, a: dict) -> None:
    pass


def _expect(sim: Simulation, a: dict) -> None:
    case = sim.case(a)
    problems = [p for key, want in a.items() if key in EXPECTATIONS for p in EXPECTATIONS[key][1](sim, case, want)]
    if problems:
        raise Failure("; ".join(problems))
    sim.say("    ok")


def _expect_error(sim: Simulation, a: dict) -> None:
    inner = a["step"]
    try:
        STEPS[inner.kind].run(sim, inner.args)
    except ZhixingError as exc:
        names = [c.__name__ for c in type(exc).__mro__]
        if a["contains"] not in str(exc) or (a["error"] and a["error"] not in names):
            raise Failure(f"expected an error {a['error']} containing {_show(a['contains'])}, got "
                          f"{type(exc).__name__}: {exc}") from None
        sim.say(f"    refused as expected: {type(exc).__name__}: {exc}")
        return
    raise Failure(f"expected '{describe(inner)}' to fail, but it succeeded")


STEPS: dict[str, StepKind] = {
    "start": StepKind(_start, ("process", "case"), ("court", "as", "data", "version", "records")),
    "complete": StepKind(_complete, ("task", "as"), ("case", "data")),
    "claim": StepKind(_claim, ("task", "as"), ("case",)),
    "unclaim": StepKind(_unclaim, ("task", "as"), ("case",)),
    "message": StepKind(_message, ("name",), ("key", "data", "court", "as"), shorthand="name"),
    "retry": StepKind(_retry, ("task",), ("case", "as"), shorthand="task"),
    "suspend": StepKind(_change_status("suspend"), ("reason",), ("case", "as"), shorthand="reason"),
    "resume": StepKind(_change_status("resume"), ("reason",), ("case", "as"), shorthand="reason"),
    "terminate": StepKind(_change_status("terminate"), ("reason",), ("case", "as"), shorthand="reason"),
    "expect_error": StepKind(_expect_error, parse=_parse_expect_error),
    "advance": StepKind(_advance, parse=_parse_advance, action=False),
    "run_jobs": StepKind(_run_jobs_step, parse=_parse_true, action=False),
    "expect": StepKind(_expect, parse=_parse_expect, action=False),
    "note": StepKind(_note, parse=_parse_note, action=False),
}


# -- expectations: (parse at load time, check at run time -> list of problems) ------------------------------------
def _names(value, sc=None) -> list[str]:
    if isinstance(value, dict):
        raise TypeError("expected a list of names")
    return sorted(str(v) for v in (value if isinstance(value, list) else [] if value is None else [value]))


def _moments(value, sc=None) -> dict:
    if not isinstance(value, dict):
        raise TypeError("expected a mapping of task id: date")
    return {str(k): parse_moment(v) for k, v in value.items()}


def _count_or_names(value, sc=None):
    return value if isinstance(value, int) and not isinstance(value, bool) else _names(value)


def _same_moment(label: str, actual: datetime | None, want: tuple[datetime, bool]) -> list[str]:
    moment, date_only = want
    if actual is None:
        return [f"{label}: expected {moment:%Y-%m-%d}, found no due date"]
    if (_last_day(actual) == moment.date()) if date_only else actual == moment:
        return []
    return [f"{label}: expected {moment:%Y-%m-%d %a}{'' if date_only else f' {moment:%H:%M%z}'}, "
            f"found{_due_text(actual)[5:]}"]


def _compare_names(label: str, found: list[str], want) -> list[str]:
    if isinstance(want, int):
        return [] if len(found) == want else [f"{label}: expected {want}, found {len(found)} ({', '.join(found)})"]
    if sorted(found) == want:
        return []
    return [f"{label}: expected [{', '.join(want)}], found [{', '.join(sorted(found))}]"]


def _subset(path: str, want, have) -> list[str]:
    """``want`` is contained in ``have``: mappings may hold more keys; everything else is equal."""
    if isinstance(want, dict) and isinstance(have, dict):
        return [p for k, v in want.items() for p in
                (_subset(f"{path}.{k}", v, have[k]) if k in have else [f"{path}.{k}: missing"])]
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        return [p for i, (w, h) in enumerate(zip(want, have)) for p in _subset(f"{path}[{i}]", w, h)]
    if want == have and isinstance(want, bool) == isinstance(have, bool):
        return []
    return [f"{path}: expected {_show(want)}, found {_show(have)}"]


def _check_tasks(sim, case, want):
    return _compare_names("tasks", [t.bpmn_id for t in sim.engine.tasks(case_no=case, limit=ALL)], want)


def _check_due(sim, case, want):
    tasks = {t.bpmn_id: t for t in sim.engine.tasks(case_no=case, limit=ALL)}
    return [p for bpmn_id, moment in want.items() for p in
            (_same_moment(f"due {bpmn_id}", tasks[bpmn_id].due_at, moment) if bpmn_id in tasks
             else [f"due {bpmn_id}: the task is not open"])]


def _check_timers(sim, case, want):
    timers = {j.bpmn_id: j for i in sim.instances(case) for j in sim.engine.job_list(kind="timer", instance_id=i.id)}
    if not isinstance(want, dict):
        return _compare_names("timers", list(timers), want)
    return [p for bpmn_id, moment in want.items() for p in
            (_same_moment(f"timer {bpmn_id}", timers[bpmn_id].due_at, moment) if bpmn_id in timers
             else [f"timer {bpmn_id}: not waiting"])]


def _check_status(sim, case, want):
    status = sim.instances(case)[0].status
    return [] if status == want else [f"status: expected {want}, found {status}"]


def _check_variables(sim, case, want):
    return _subset("variables", want, sim.engine.variables(sim.instances(case)[0].id))


def _check_incidents(sim, case, want):
    ids = {i.id for i in sim.instances(case)}
    found = [j for j in sim.engine.incidents() if j.instance_id in ids]
    if not isinstance(want, dict):
        return _compare_names("incidents", [j.bpmn_id for j in found], want)
    errors = {j.bpmn_id: j.last_error or "" for j in found}
    return [f"incident {k}: " + (f"error {_show(errors[k])} does not contain {_show(v)}" if k in errors else "none")
            for k, v in want.items() if k not in errors or str(v) not in errors[k]]


def _events_of(sim, case) -> set[str]:
    logged = [e for i in sim.instances(case) for e in sim.engine.events(i.id)]
    return {e.action for e in logged} | {f"{e.action}:{e.bpmn_id}" for e in logged}


def _check_events_include(sim, case, want):
    logged = _events_of(sim, case)
    return [f"events: no {w} in the log of {case}" for w in want if w not in logged]


def _check_events_exclude(sim, case, want):
    logged = _events_of(sim, case)
    return [f"events: {w} is in the log of {case}, expected none" for w in want if w in logged]


def _check_worklist(sim, case, want):
    return [p for user, names in want.items() for p in _compare_names(
        f"worklist of {user}", [t.bpmn_id for t in sim.engine.tasks(username=user, case_no=case, limit=ALL)], names)]


def _check_calls(sim, case, want):
    return [f"handler_calls {name}: expected {n}, found {sim.calls[name]}" for name, n in want.items()
            if sim.calls[name] != n]


def _check_inbox(sim, case, want):
    return _compare_names("inbox", [m.name for m in sim.engine.inbox()], want)


def _mapping_of(convert):
    def parse(value, sc=None):
        if not isinstance(value, dict):
            raise TypeError("expected a mapping")
        return {str(k): convert(v) for k, v in value.items()}
    return parse


def _worklist(value, sc):
    parsed = _mapping_of(_names)(value)
    unknown = [u for u in parsed if u not in sc.users]
    if unknown:
        raise ValueError(f"unknown user(s) {', '.join(unknown)}")
    return parsed


EXPECTATIONS: dict[str, tuple[Callable, Callable]] = {
    "tasks": (_names, _check_tasks),
    "due": (_moments, _check_due),
    "status": (lambda v, sc: str(v), _check_status),
    "variables": (_mapping_of(_plain), _check_variables),
    "incidents": (lambda v, sc: _mapping_of(str)(v) if isinstance(v, dict) else _count_or_names(v), _check_incidents),
    "timers": (lambda v, sc: _moments(v) if isinstance(v, dict) else _count_or_names(v), _check_timers),
    "events_include": (_names, _check_events_include),
    "events_exclude": (_names, _check_events_exclude),
    "worklist": (_worklist, _check_worklist),
    "handler_calls": (_mapping_of(int), _check_calls),
    "inbox": (_count_or_names, _check_inbox),
}


# -- entry points -------------------------------------------------------------------------------------------------
def run_scenario(source, base_dir: Path | str = ".", echo: Callable[[str], object] | None = None,
                 file: str = "<scenario>", database_url: str | None = None,
                 start: datetime | None = None) -> ScenarioResult:
    """Run a scenario given as YAML text or as a dict; paths in it are relative to ``base_dir``. ``database_url``
    runs it into that database instead of a throw-away one; ``start`` replaces the scenario's start moment."""
    if too_large(source):
        return _failed(f"{file}: {too_large(source)}", echo)
    try:
        doc = yaml.load(source, Loader=_Loader) if isinstance(source, str) else _wrap(source)
        sc = parse_scenario(doc, file, Path(base_dir))
    except ScenarioError as exc:
        return _failed(f"{file}:{exc.line}: {exc}" if exc.line else f"{file}: {exc}", echo)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark else file
        return _failed(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}", echo)
    if start is not None:
        sc.start = start
    sim = Simulation(sc, echo, database_url)
    failures = sim.run()
    span = f"{_local(sc.start)} → {_local(sim.clock.now())}"
    if failures:
        where = failures[0].removeprefix(f"{file}:").strip()    # the CLI prints the path already: keep the line
        return ScenarioResult(False, f"{sc.name}: {'line ' if where[:1].isdigit() else ''}{where}", sim.trace,
                              failures)
    return ScenarioResult(True, f"{sc.name}: {len(sc.steps)} steps passed, {len(sim.cases)} case(s), {span}",
                          sim.trace, [])


def run_scenario_file(path: Path | str, echo: Callable[[str], object] | None = None,
                      database_url: str | None = None, start: datetime | None = None) -> ScenarioResult:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _failed(f"{path}: cannot read the scenario: {exc}", echo)
    return run_scenario(text, path.parent, echo, file=str(path), database_url=database_url, start=start)


def _failed(message: str, echo) -> ScenarioResult:
    if echo:
        echo(message)
    return ScenarioResult(False, message, [message], [message])


# -- scenario runs against a designer's draft (the designer's "run a scenario" page) ----------------------
SIMULATION_SECONDS = 20.0
SIMULATION_MEMORY = 256 << 20        # bytes a scenario run may add to the web process, checked at every step
_SIMULATING = threading.Lock()      # one scenario at a time: the sandbox adapters read process-wide settings
PROCEDURE_SCENARIOS = Path(__file__).resolve().parents[1] / "tests" / "scenarios" / "procedures"


@dataclass(frozen=True)
class SimulationRun:
    ok: bool
    summary: str
    trace: tuple[str, ...]
    timed_out: bool = False


class _OutOfTime(BaseException):
    """Raised from the trace callback to stop a scenario that runs too long (a BaseException, so the simulator's
    own error handling does not turn it into a step failure)."""


class _OutOfMemory(BaseException):
    """Raised from the trace callback when the server grew by more than ``SIMULATION_MEMORY`` during a run."""


def _resident() -> int:
    """This process's resident memory in bytes (Linux ``/proc``; 0 elsewhere, where the cap does not apply)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0



def simulate_draft(files: Mapping[str, str], scenario: str, seconds: float = SIMULATION_SECONDS) -> SimulationRun:
    """Run a scenario (YAML text) against ``files`` on a throw-away database, stopped after ``seconds``.

    The scenario's own ``deploy:`` is replaced by the given set.
    """
    refusal = too_large(scenario)
    if refusal:
        return SimulationRun(False, refusal, (refusal,))
    try:
        doc = yaml.load(scenario, Loader=_Loader)
    except Exception:          # reported with its line by run_scenario below
        doc = None
    trace: list[str] = []
    deadline = monotonic() + seconds
    memory_cap = _resident() + SIMULATION_MEMORY

    def echo(line: str) -> None:
        trace.append(line)
        if monotonic() > deadline:
            raise _OutOfTime()
        if _resident() > memory_cap:
            raise _OutOfMemory()

    if not _SIMULATING.acquire(timeout=seconds):
        raise StateError("another scenario is running; try again in a moment")
    try:
        with tempfile.TemporaryDirectory(prefix="zhixing-draft-") as tmp:
            folder = Path(tmp) / "set"
            folder.mkdir()
            for name, content in files.items():
                (folder / Path(name).name).write_text(content, encoding="utf-8")
            source = scenario
            if isinstance(doc, dict):
                doc["deploy"] = [str(folder)]
                source = doc
            try:
                result = run_scenario(source, base_dir=folder, echo=echo, file="scenario.yaml")
            except _OutOfTime:
                return SimulationRun(False, f"stopped after {seconds:.0f} s: the scenario runs too long "
                                     "(a loop in the diagram, or too many steps?)", tuple(trace), True)
            except _OutOfMemory:
                return SimulationRun(False, f"stopped: the scenario took more than {SIMULATION_MEMORY >> 20} MB "
                                     "of memory", tuple(trace), True)
    finally:
        _SIMULATING.release()
    return SimulationRun(result.ok, result.summary, tuple(result.trace))


def procedure_scenarios(process_id: str) -> dict[str, str]:
    """The repository's scenario files that start this procedure (to pick instead of pasting)."""
    if not PROCEDURE_SCENARIOS.is_dir():
        return {}
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(PROCEDURE_SCENARIOS.glob("*.yaml"))}
    return {name: text for name, text in texts.items() if f"process: {process_id}" in text}
