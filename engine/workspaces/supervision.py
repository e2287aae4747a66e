"""Read side for supervisors (监督管理, 执行指挥中心): instance lists, one instance on its diagram, incidents, the
procedure heatmap and the dashboard.

Every query is limited to the courts the caller passes (the web layer passes the courts where the user holds a
supervising role, optionally with their subordinate courts), and every list is paginated or aggregated in SQL, so
a page costs the same with 100 or 100,000 cases. Definitions used throughout:

* **overdue** (超期): a running case with an open task past its due time, or past ``fields.term_due_on``
  (the case's 执行期限, a court date);
* **idle** (反消极执行): a running case with no event for N days. Every event bumps ``instances.updated_at``,
  so idleness is read from that column; the court's limit is its ``idle_node_days`` setting;
* **time at a node**: from the flow event that went before (instance started, task or service completed, timer
  fired, message received, instance resumed) to the node's own completion. Exact on a sequential path; on parallel
  branches the event before may belong to the other branch, which makes the time shorter than it was.
"""
from __future__ import annotations

import json
import statistics
import zlib
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from engine.court import courts as court_registry
from engine.definitions.layout import ensure_layout, relabel_lanes
from engine.errors import InvalidInput, NotFound
from engine.legaltime.periods import COURT_TZ, parse_period
from engine.store.tables import definitions, deployment_files, events, human_tasks, instances, jobs, subscriptions
from engine.views import Page
from engine.workspaces.metrics import court_tree, with_subordinates

STATUSES = ("running", "suspended", "completed", "terminated")
# events that move a token: the next node opens when one of these happens
FLOW_ACTIONS = ("instance_started", "task_completed", "service_completed", "timer_fired", "message_received",
                "instance_resumed")
NODE_DONE_ACTIONS = ("task_completed", "service_completed", "timer_fired")
EXPORT_CHUNK = 1000
# SpiffWorkflow task states in a stored workflow (SpiffWorkflow.util.task.TaskState)
_WAITING, _READY, _STARTED, _COMPLETED = 8, 16, 32, 64


# -- results ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """What a supervisor narrows the case list by; ``courts`` is the scope the caller may see."""

    courts: tuple[str, ...]
    process_id: str | None = None
    version: int | None = None
    stage: str | None = None
    role: str | None = None            # team: the role (lane) of an open task
    officer: str | None = None         # fields.owner, or who claimed an open task
    status: str | None = None
    overdue: bool = False
    idle_days: int | None = None       # no event for this many days; 0: the court's own limit
    incident: bool = False
    case_no: str | None = None         # part of a case number


@dataclass(frozen=True)
class OpenTask:
    task_id: str
    bpmn_id: str
    name: str
    role: str
    claimed_by: str | None
    due_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class InstanceRow:
    id: int
    case_no: str
    process_id: str
    process_name: str
    version: int
    court: str
    status: str
    stage: str | None
    owner: str | None
    term_due_on: str | None
    started_at: datetime
    last_activity: datetime
    open_tasks: tuple[OpenTask, ...]
    incidents: int
    past_term: bool             # running and past fields.term_due_on
    overdue: bool               # past term, or an open task past its due time


@dataclass(frozen=True)
class JobRow:
    id: int
    kind: str                # timer | service | message
    instance_id: int | None
    case_no: str | None
    court: str | None
    process_id: str | None
    bpmn_id: str | None
    operator: str | None
    status: str              # ready | running | suspended | incident
    due_at: datetime
    provisional: bool
    attempts: int
    max_attempts: int
    last_error: str | None
    updated_at: datetime


@dataclass(frozen=True)
class InstanceDetail:
    id: int
    case_no: str
    process_id: str
    process_name: str
    version: int
    court: str
    status: str
    stage: str | None
    parent_id: int | None
    related_case_no: str | None
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    fields: dict
    open_tasks: tuple[OpenTask, ...]
    jobs: tuple[JobRow, ...]
    waits: tuple[tuple[str, str], ...]      # (message name, correlation key) the case waits for
    completed: dict                          # bpmn id → how many times it completed
    active: tuple[str, ...]                  # bpmn ids holding a token now


@dataclass(frozen=True)
class NodeStat:
    waiting: int = 0            # cases at the node now: an open task or a service call
    timers: int = 0             # timers waiting at the node (a boundary timer waits with its task)
    overdue: int = 0            # open tasks at the node past their due time
    incidents: int = 0          # failed service calls at the node
    completed: int = 0          # completions in the period
    median_s: float | None = None   # median time at the node of the completions in the period


@dataclass(frozen=True)
class Heatmap:
    process_id: str
    version: int | None
    start: date
    end: date
    nodes: dict                 # bpmn id → NodeStat

    @property
    def max_waiting(self) -> int:
        return max((n.waiting + n.timers for n in self.nodes.values()), default=0)


@dataclass(frozen=True)
class CaseAlert:
    instance_id: int
    case_no: str
    court: str
    process_id: str
    stage: str | None
    since: str                  # the court day the case fell idle, or its term ended
    days: int


@dataclass(frozen=True)
class Dashboard:
    as_of: date
    backlog: tuple                  # (process name, stage, pending cases)
    deadlines: dict                 # role → {"overdue": n, "soon": n}
    soon_days: int                  # "soon": due within this many days (the court's deadline_reminder)
    idle_count: int
    idle: tuple[CaseAlert, ...]
    idle_limits: dict               # court → idle_node_days
    term: dict                      # {"within": n, "past": n, "unset": n} of pending cases
    past_term: tuple[CaseAlert, ...]


@dataclass(frozen=True)
class Procedure:
    process_id: str
    name: str
    versions: tuple[int, ...]


# -- scope ------------------------------------------------------------------------------------------------------
def court_scope(conn, codes, include_subordinates: bool = False) -> list[str]:
    """The courts given and, if asked, every court below them in the hierarchy (上级法院监督下级法院)."""
    if not include_subordinates:
        return list(dict.fromkeys(codes))
    tree = court_tree(conn)
    return list(dict.fromkeys(court for code in codes for court in with_subordinates(tree, code)))


def procedures(conn) -> list[Procedure]:
    rows = conn.execute(sa.select(definitions.c.process_id, definitions.c.name, definitions.c.version)
                        .order_by(definitions.c.process_id, definitions.c.version)).all()
    by_process: dict[str, list] = defaultdict(list)
    names = {}
    for r in rows:
        by_process[r.process_id].append(r.version)
        names[r.process_id] = r.name
    return [Procedure(p, names[p], tuple(v)) for p, v in by_process.items()]


def stages(conn, scope) -> list[str]:
    return [s for s in conn.execute(sa.select(instances.c.stage).distinct()
                                    .where(instances.c.court.in_(scope), instances.c.stage.is_not(None))
                                    .order_by(instances.c.stage)).scalars()]


# -- the instance list ------------------------------------------------------------------------------------------
def _today(now: datetime) -> str:
    return now.astimezone(COURT_TZ).date().isoformat()


class CaseField(ColumnElement):
    """A queryable case field (``instances.fields[name]``) as text, with its JSON path written inline: the
    form the expression indexes of migration 0007 (``owner``, ``term_due_on``) are built on, which is what lets
    the database use them (a bound path parameter, as ``fields[name]`` gives, never matches an index)."""

    type = sa.String()
    inherit_cache = True
    _traverse_internals = [("name", InternalTraversal.dp_string)]

    def __init__(self, name: str):
        if not name.isidentifier():
            raise ValueError(f"case field name {name!r} is not an identifier")
        self.name = name


@compiles(CaseField, "sqlite")
def _case_field_sqlite(element, compiler, **kw):
    return f"json_extract(instances.fields, '$.{element.name}')"


@compiles(CaseField, "postgresql")
def _case_field_postgresql(element, compiler, **kw):
    return f"(instances.fields ->> '{element.name}')"


def _term_due_on():
    """The case's 执行期限 (a court date, 'YYYY-MM-DD', or a timestamp that compares by its day as text)."""
    return CaseField("term_due_on")


def _idle_cutoff(conn, scope, days: int, now: datetime):
    """The moment before which a case's last event makes it idle: ``days`` ago, or each court's own limit."""
    if days > 0:
        return sa.literal(now - timedelta(days=days), instances.c.updated_at.type)
    limits = idle_limits(conn, scope)
    if len(set(limits.values())) == 1:
        return sa.literal(now - timedelta(days=next(iter(limits.values()))), instances.c.updated_at.type)
    return sa.case({code: sa.literal(now - timedelta(days=n), instances.c.updated_at.type)
                    for code, n in limits.items()}, value=instances.c.court)


def idle_limits(conn, scope) -> dict[str, int]:
    """court → its ``idle_node_days`` (反消极执行 limit)."""
    return {code: court_registry.settings_for(conn, code)["idle_node_days"] for code in scope}


def _with_tasks(courts_, *conditions):
    """``instances.id IN`` the cases of these courts with an open task meeting ``conditions``: read from the
    task table's own indexes, not by a lookup per case."""
    return instances.c.id.in_(sa.select(human_tasks.c.instance_id).where(human_tasks.c.court.in_(courts_),
                                                                        *conditions))


def _overdue(now: datetime):
    """Running cases with an open task past due, or past their term (measured: cheaper as EXISTS than as a
    union of the two sets, since most cases of a backlog pass the term test on the index alone)."""
    late_task = sa.exists().where(human_tasks.c.instance_id == instances.c.id, human_tasks.c.due_at < now)
    return sa.and_(instances.c.status == "running", sa.or_(_term_due_on() < _today(now), late_task))


def _conditions(conn, f: Filters, now: datetime) -> list:
    where: list = [instances.c.court.in_(f.courts)]
    if f.process_id:
        where.append(instances.c.process_id == f.process_id)
        if f.version:
            where.append(instances.c.definition_id == sa.select(definitions.c.id).where(
                definitions.c.process_id == f.process_id, definitions.c.version == f.version).scalar_subquery())
    if f.stage:
        where.append(instances.c.stage == f.stage)
    if f.status:
        where.append(instances.c.status == f.status)
    if f.case_no:
        where.append(instances.c.case_no.contains(f.case_no, autoescape=True))
    if f.role:
        where.append(_with_tasks(f.courts, human_tasks.c.role == f.role))
    if f.officer:
        claimed = sa.select(human_tasks.c.instance_id).where(human_tasks.c.claimed_by == f.officer)
        owned = sa.select(instances.c.id).where(instances.c.court.in_(f.courts), CaseField("owner") == f.officer)
        where.append(instances.c.id.in_(sa.union(claimed, owned)))
    if f.overdue:
        where.append(_overdue(now))
    if f.idle_days is not None:
        where += [instances.c.status == "running",
                  instances.c.updated_at < _idle_cutoff(conn, f.courts, f.idle_days, now)]
    if f.incident:
        where.append(instances.c.id.in_(sa.select(jobs.c.instance_id).where(jobs.c.status == "incident")))
    return where


def _list_columns():
    return (instances.c.id, instances.c.case_no, instances.c.process_id, definitions.c.name.label("process_name"),
            definitions.c.version, instances.c.court, instances.c.status, instances.c.stage,
            CaseField("owner").label("owner"), _term_due_on().label("term_due_on"), instances.c.started_at,
            instances.c.updated_at)


def _open_tasks(conn, ids, now: datetime) -> dict[int, list[OpenTask]]:
    out: dict[int, list[OpenTask]] = defaultdict(list)
    if ids:
        rows = conn.execute(sa.select(human_tasks).where(human_tasks.c.instance_id.in_(ids))
                            .order_by(human_tasks.c.due_at.is_(None), human_tasks.c.due_at))
        for r in rows:
            out[r.instance_id].append(OpenTask(r.task_id, r.bpmn_id, r.name, r.role, r.claimed_by, r.due_at,
                                               r.due_at is not None and r.due_at < now))
    return out


def _incident_counts(conn, ids) -> dict[int, int]:
    if not ids:
        return {}
    return dict(conn.execute(sa.select(jobs.c.instance_id, sa.func.count()).where(
        jobs.c.instance_id.in_(ids), jobs.c.status == "incident").group_by(jobs.c.instance_id)).all())


def _rows(conn, rows, now: datetime) -> tuple[InstanceRow, ...]:
    ids = [r.id for r in rows]
    tasks, incidents, today = _open_tasks(conn, ids, now), _incident_counts(conn, ids), _today(now)
    out = []
    for r in rows:
        running = r.status == "running"
        past_term = running and bool(r.term_due_on and str(r.term_due_on) < today)
        out.append(InstanceRow(
            r.id, r.case_no, r.process_id, r.process_name, r.version, r.court, r.status, r.stage, r.owner,
            r.term_due_on and str(r.term_due_on)[:10], r.started_at, r.updated_at, tuple(tasks[r.id]),
            incidents.get(r.id, 0), past_term,
            past_term or (running and any(t.overdue for t in tasks[r.id]))))
    return tuple(out)


def _page_rows(conn, ids, now: datetime) -> tuple[InstanceRow, ...]:
    """The list's rows of these cases, in the order given (read after the ids, so only a page of rows is read)."""
    if not ids:
        return ()
    found = {r.id: r for r in conn.execute(
        sa.select(*_list_columns()).join(definitions, definitions.c.id == instances.c.definition_id)
        .where(instances.c.id.in_(ids)))}
    return _rows(conn, [found[i] for i in ids], now)


def instance_page(conn, f: Filters, now: datetime, page: int = 1, per_page: int = 50) -> Page:
    """One page of the cases matching ``f``, newest first, with the total."""
    where = _conditions(conn, f, now)
    total = conn.execute(sa.select(sa.func.count()).select_from(instances).where(*where)).scalar()
    page = max(1, min(page, max(1, -(-total // per_page))))
    ids = conn.execute(sa.select(instances.c.id).where(*where).order_by(instances.c.id.desc())
                       .limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return Page(_page_rows(conn, ids, now), total, page, per_page)


def instance_chunk(conn, f: Filters, now: datetime, before_id: int | None,
                   limit: int = EXPORT_CHUNK) -> tuple[InstanceRow, ...]:
    """The next ``limit`` matching cases with an id below ``before_id`` (keyset: an export never re-counts)."""
    where = _conditions(conn, f, now)
    if before_id is not None:
        where.append(instances.c.id < before_id)
    ids = conn.execute(sa.select(instances.c.id).where(*where).order_by(instances.c.id.desc())
                       .limit(limit)).scalars().all()
    return _page_rows(conn, ids, now)


# -- one instance -----------------------------------------------------------------------------------------------
def _job_court():
    """A job's court: its case's, or for a message not yet delivered to a case, the sender's."""
    return sa.func.coalesce(instances.c.court, jobs.c.payload["court"].as_string())


def _job_rows(conn, where, order, limit: int | None = None, offset: int = 0) -> tuple[JobRow, ...]:
    q = sa.select(jobs, instances.c.case_no, _job_court().label("court_code"), instances.c.process_id) \
        .outerjoin(instances, instances.c.id == jobs.c.instance_id).where(*where).order_by(*order)
    if limit:
        q = q.limit(limit).offset(offset)
    return tuple(JobRow(r.id, r.kind, r.instance_id, r.case_no or (r.payload or {}).get("case_no"), r.court_code,
                        r.process_id, r.bpmn_id, r.operator, r.status, r.due_at, bool(r.provisional), r.attempts,
                        r.max_attempts, r.last_error, r.updated_at) for r in conn.execute(q))


def _node_states(state: bytes) -> tuple[Counter, list[str]]:
    """From a stored workflow: how often each node completed, and the nodes holding a token (ready, waiting or
    started), in the main process and its subprocesses. A node's task spec is named by its BPMN id."""
    workflow = json.loads(zlib.decompress(state))
    completed: Counter = Counter()
    active: list[str] = []
    for flow in (workflow, *(workflow.get("subprocesses") or {}).values()):
        for task in (flow.get("tasks") or {}).values():
            if task["state"] == _COMPLETED:
                completed[task["task_spec"]] += 1
            elif task["state"] in (_WAITING, _READY, _STARTED):
                active.append(task["task_spec"])
    return completed, sorted(set(active))


def instance_detail(conn, instance_id: int, now: datetime) -> InstanceDetail:
    r = conn.execute(sa.select(instances, definitions.c.name.label("process_name"), definitions.c.version
                               .label("definition_version"))
                     .join(definitions, definitions.c.id == instances.c.definition_id)
                     .where(instances.c.id == instance_id)).first()
    if r is None:
        raise NotFound(f"instance {instance_id} does not exist")
    completed, active = _node_states(r.state) if r.state else (Counter(), [])
    waits = tuple(conn.execute(sa.select(subscriptions.c.message_name, subscriptions.c.correlation_key)
                               .where(subscriptions.c.instance_id == instance_id)
                               .order_by(subscriptions.c.message_name)).tuples())
    return InstanceDetail(
        r.id, r.case_no, r.process_id, r.process_name, r.definition_version, r.court, r.status, r.stage,
        r.parent_id, r.related_case_no, r.started_at, r.updated_at, r.ended_at, dict(r.fields or {}),
        tuple(_open_tasks(conn, [instance_id], now)[instance_id]),
        _job_rows(conn, [jobs.c.instance_id == instance_id], (jobs.c.due_at, jobs.c.id)), waits, dict(completed),
        tuple(active))


def diagram_xml(conn, process_id: str, version: int, lane_labels: Mapping[str, str] | None = None) -> str:
    """The BPMN file a version was deployed from, with a plain layout added if it was written without one;
    with ``lane_labels`` (role code → label), each lane of a role shows that label instead of its code."""
    content = conn.execute(sa.select(deployment_files.c.content).join(
        definitions, sa.and_(definitions.c.deployment_id == deployment_files.c.deployment_id,
                             definitions.c.file_name == deployment_files.c.name))
        .where(definitions.c.process_id == process_id, definitions.c.version == version)).scalar()
    if content is None:
        raise NotFound(f"process '{process_id}@{version}' is not deployed")
    return relabel_lanes(ensure_layout(content), lane_labels) if lane_labels else ensure_layout(content)


# -- incidents --------------------------------------------------------------------------------------------------
def incident_page(conn, scope, page: int = 1, per_page: int = 50) -> tuple[tuple[JobRow, ...], int]:
    """Incidents (failed jobs) of the cases of these courts, latest failure first, and how many there are."""
    where = [jobs.c.status == "incident", _job_court().in_(scope)]
    total = conn.execute(sa.select(sa.func.count()).select_from(jobs)
                         .outerjoin(instances, instances.c.id == jobs.c.instance_id).where(*where)).scalar()
    latest_first = (jobs.c.updated_at.desc(), jobs.c.id.desc())
    return _job_rows(conn, where, latest_first, limit=per_page, offset=(max(1, page) - 1) * per_page), total


def job_court(conn, job_id: int) -> str | None:
    """The court of the case a job belongs to (for the caller's court check before acting on it)."""
    row = conn.execute(sa.select(instances.c.court, jobs.c.payload).outerjoin(
        instances, instances.c.id == jobs.c.instance_id).where(jobs.c.id == job_id)).first()
    if row is None:
        raise NotFound(f"job {job_id} does not exist (it may have completed)")
    return row.court or (row.payload or {}).get("court")


def instance_court(conn, instance_id: int) -> str:
    court = conn.execute(sa.select(instances.c.court).where(instances.c.id == instance_id)).scalar()
    if court is None:
        raise NotFound(f"instance {instance_id} does not exist")
    return court


# -- heatmap ----------------------------------------------------------------------------------------------------
def heatmap(conn, scope, process_id: str, version: int | None, start: date, end: date,
            now: datetime) -> Heatmap:
    """Per node of a procedure: cases waiting there now, and the median time spent there by the cases that
    left it in the court days ``start``..``end``."""
    if end < start:
        raise InvalidInput(f"the period ends ({end}) before it starts ({start})", {"end": "before start"})
    scoped = sa.select(instances.c.id).where(*_conditions(conn, Filters(tuple(scope), process_id, version), now))
    nodes: dict[str, Counter] = defaultdict(Counter)
    for bpmn_id, waiting, late in conn.execute(
            sa.select(human_tasks.c.bpmn_id, sa.func.count(),
                      sa.func.sum(sa.case((human_tasks.c.due_at < now, 1), else_=0)))
            .where(human_tasks.c.instance_id.in_(scoped)).group_by(human_tasks.c.bpmn_id)):
        nodes[bpmn_id].update(waiting=waiting, overdue=int(late or 0))
    for bpmn_id, kind, status, n in conn.execute(
            sa.select(jobs.c.bpmn_id, jobs.c.kind, jobs.c.status, sa.func.count())
            .where(jobs.c.instance_id.in_(scoped), jobs.c.kind.in_(("timer", "service")))
            .group_by(jobs.c.bpmn_id, jobs.c.kind, jobs.c.status)):
        nodes[bpmn_id]["timers" if kind == "timer" else "waiting"] += n
        nodes[bpmn_id]["incidents"] += n if status == "incident" else 0
    before = events.alias("before")
    opened = sa.select(sa.func.max(before.c.at)).where(
        before.c.instance_id == events.c.instance_id, before.c.seq < events.c.seq,
        before.c.action.in_(FLOW_ACTIONS)).scalar_subquery()
    start_at = datetime.combine(start, datetime.min.time(), COURT_TZ)
    end_at = datetime.combine(end + timedelta(days=1), datetime.min.time(), COURT_TZ)
    spent: dict[str, list[float]] = defaultdict(list)
    for bpmn_id, seconds in conn.execute(
            sa.select(events.c.bpmn_id, _seconds(conn, events.c.at, opened))
            .where(events.c.instance_id.in_(scoped), events.c.action.in_(NODE_DONE_ACTIONS),
                   events.c.at >= start_at, events.c.at < end_at)):
        if seconds is not None and bpmn_id:
            spent[bpmn_id].append(float(seconds))
    return Heatmap(process_id, version, start, end, {
        k: NodeStat(**dict(nodes.get(k, {})), completed=len(spent.get(k, ())),
                    median_s=statistics.median(spent[k]) if k in spent else None)
        for k in set(nodes) | set(spent)})


def _seconds(conn, later, earlier):
    """``later - earlier`` in seconds, computed by the database (thousands of rows need no datetime objects)."""
    if conn.dialect.name == "sqlite":
        return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
    return sa.extract("epoch", later - earlier)


# -- dashboard --------------------------------------------------------------------------------------------------
def _alerts(rows, since_of, as_of: date) -> tuple[CaseAlert, ...]:
    out = []
    for r in rows:
        since = since_of(r)
        out.append(CaseAlert(r.id, r.case_no, r.court, r.process_id, r.stage, since.isoformat(),
                             (as_of - since).days))
    return tuple(out)


def dashboard(conn, scope, now: datetime, list_limit: int = 10) -> Dashboard:
    """Backlog by stage, deadline warnings by team, 反消极执行 alerts and term compliance of these courts."""
    as_of = now.astimezone(COURT_TZ).date()
    today = as_of.isoformat()
    pending = [instances.c.court.in_(scope), instances.c.status.in_(("running", "suspended"))]
    backlog = tuple(conn.execute(
        sa.select(definitions.c.name, sa.func.coalesce(instances.c.stage, ""), sa.func.count())
        .join(definitions, definitions.c.id == instances.c.definition_id).where(*pending)
        .group_by(definitions.c.name, instances.c.stage).order_by(definitions.c.name, instances.c.stage)).tuples())

    reminders = [court_registry.settings_for(conn, code).get("deadline_reminder") or "P7D" for code in scope]
    soon_days = max(_period_days(p) for p in reminders) if reminders else 7
    # due by the end of the court day soon_days from today (a period ends at 24:00, the next day's midnight)
    soon = datetime.combine(as_of + timedelta(days=soon_days + 1), datetime.min.time(), COURT_TZ)
    deadlines: dict[str, dict] = {}
    # a suspended case's clock stands still (its tasks are neither overdue nor due); there are few of them
    suspended = sa.select(instances.c.id).where(instances.c.court.in_(scope), instances.c.status == "suspended")
    for role, late, coming in conn.execute(
            sa.select(human_tasks.c.role, sa.func.sum(sa.case((human_tasks.c.due_at < now, 1), else_=0)),
                      sa.func.sum(sa.case((human_tasks.c.due_at >= now, 1), else_=0)))
            .where(human_tasks.c.court.in_(scope), human_tasks.c.due_at <= soon,
                   human_tasks.c.instance_id.not_in(suspended))
            .group_by(human_tasks.c.role).order_by(human_tasks.c.role)):
        deadlines[role] = {"overdue": int(late or 0), "soon": int(coming or 0)}

    limits = idle_limits(conn, scope)
    idle_where = [instances.c.court.in_(scope), instances.c.status == "running",
                  instances.c.updated_at < _idle_cutoff(conn, scope, 0, now)]
    idle_count = conn.execute(sa.select(sa.func.count()).select_from(instances).where(*idle_where)).scalar()
    idle_rows = conn.execute(sa.select(instances.c.id, instances.c.case_no, instances.c.court,
                                       instances.c.process_id, instances.c.stage, instances.c.updated_at)
                             .where(*idle_where).order_by(instances.c.updated_at).limit(list_limit)).all()

    term = _term_due_on()
    running = [instances.c.court.in_(scope), instances.c.status == "running"]
    counts = conn.execute(sa.select(
        sa.func.sum(sa.case((term.is_(None), 1), else_=0)), sa.func.sum(sa.case((term < today, 1), else_=0)),
        sa.func.count()).where(*running)).one()
    unset, past, total = (int(x or 0) for x in counts)
    past_rows = conn.execute(sa.select(instances.c.id, instances.c.case_no, instances.c.court,
                                       instances.c.process_id, instances.c.stage, term.label("term_due_on"))
                             .where(*running, term < today).order_by(term, instances.c.id).limit(list_limit)).all()
    return Dashboard(
        as_of, backlog, deadlines, soon_days, idle_count,
        _alerts(idle_rows, lambda r: r.updated_at.astimezone(COURT_TZ).date(), as_of), limits,
        {"within": total - unset - past, "past": past, "unset": unset},
        _alerts(past_rows, lambda r: date.fromisoformat(str(r.term_due_on)[:10]), as_of))


def _period_days(text: str) -> int:
    """Days in a reminder period such as ``P7D``, ``P2W`` or ``P1M`` (calendar days are enough for a warning)."""
    try:
        period = parse_period(text)
    except ValueError:  # a court setting nobody can read: warn a week ahead rather than fail the page
        return 7
    per_unit = {"days": 1, "working_days": 1, "weeks": 7, "months": 30, "years": 365}
    return max(1, period.amount * per_unit.get(period.unit, 0))


# -- the facade's supervision reads ------------------------------------------------------------------------------
class Supervision:
    """The supervisors' reads, reached as ``Engine.supervision``: each call is one read on the engine's store,
    timed by the engine's clock (virtual in tests)."""

    def __init__(self, executor, clock):
        self._read, self._clock = executor.read, clock

    def scope(self, codes, include_subordinates: bool = False) -> list[str]:
        return self._read(lambda conn: court_scope(conn, codes, include_subordinates))

    def procedures(self) -> list[Procedure]:
        return self._read(procedures)

    def stages(self, scope) -> list[str]:
        return self._read(lambda conn: stages(conn, scope))

    def idle_limits(self, scope) -> dict[str, int]:
        return self._read(lambda conn: idle_limits(conn, scope))

    def instances(self, filters: Filters, page: int = 1, per_page: int = 50) -> Page:
        return self._read(lambda conn: instance_page(conn, filters, self._clock.now(), page, per_page))

    def export(self, filters: Filters):
        """Every matching case, newest first, read a chunk at a time (for a streamed CSV)."""
        now, before = self._clock.now(), None
        while True:
            chunk = self._read(lambda conn, before=before: instance_chunk(conn, filters, now, before))
            yield from chunk
            if len(chunk) < EXPORT_CHUNK:
                return
            before = chunk[-1].id

    def instance(self, instance_id: int) -> InstanceDetail:
        return self._read(lambda conn: instance_detail(conn, instance_id, self._clock.now()))

    def instance_court(self, instance_id: int) -> str:
        return self._read(lambda conn: instance_court(conn, instance_id))

    def diagram(self, process_id: str, version: int, lane_labels: Mapping[str, str] | None = None) -> str:
        return self._read(lambda conn: diagram_xml(conn, process_id, version, lane_labels))

    def incidents(self, scope, page: int = 1, per_page: int = 50):
        return self._read(lambda conn: incident_page(conn, scope, page, per_page))

    def job_court(self, job_id: int) -> str | None:
        return self._read(lambda conn: job_court(conn, job_id))

    def heatmap(self, scope, process_id: str, version: int | None, start: date, end: date) -> Heatmap:
        return self._read(lambda conn: heatmap(conn, scope, process_id, version, start, end, self._clock.now()))

    def dashboard(self, scope) -> Dashboard:
        return self._read(lambda conn: dashboard(conn, scope, self._clock.now()))
