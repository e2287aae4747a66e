"""The officers' read side: my tasks (我的待办), the task page, the case page and its search, plus form drafts.

Lists are paginated in SQL and read only the projections (``human_tasks``, ``instances``), so they cost the same
with 10 or 10,000 cases. The case page reads the case file (案卷: the ``cases`` row and its typed records, which
only the engine writes, engine/kernel/casefile.py), never the workflows' data: its assets, measures, money and
documents are what the engine recorded, and a document is served by its record id.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from engine.commands.office import OfficeWrite
from engine.commands.tasks import ReassignTask, court_users
from engine.court.accounts import roles_of
from engine.court.courts import CASE_NUMBER
from engine.court.roles import TEAM_LEADER_ROLES
from engine.errors import NotFound
from engine.kernel.casefile import CaseFacts, bind_choices, bound, facts_for, load_records
from engine.legaltime.periods import COURT_TZ
from engine.store.tables import (
    case_records,
    cases,
    definitions,
    events,
    human_tasks,
    instances,
    task_drafts,
    user_roles,
    users,
)
from engine.views import OpenPage, Page, TaskView

# what the officers' pages show of a case: its queryable fields (``caseFields``) first, else its data
FACTS = ("applicant_name", "debtor_name", "debtor_id", "debtor_kind", "amount", "basis", "owner", "track",
         "filed_on", "recovered")
ALIASES = {"applicant_name": ("applicant",), "debtor_name": ("debtor",)}
EXPIRY_WARNING_DAYS = 30        # a control measure this close to its last day is marked (续行 before it lapses)
TIMELINE_LIMIT = 1000


def fact(values: dict, key: str):
    """``values[key]`` or the first of its aliases (``debtor`` for ``debtor_name``) that is set."""
    for name in (key, *ALIASES.get(key, ())):
        if values.get(name) not in (None, ""):
            return values[name]
    return None


# -- my tasks -----------------------------------------------------------------------------------------------
class _Parties:
    """The applicant and the debtor as a list row shows them, read from the row's ``fields``."""

    fields: dict

    @property
    def applicant(self):
        return fact(self.fields, "applicant_name")

    @property
    def debtor(self):
        return fact(self.fields, "debtor_name")


@dataclass(frozen=True)
class TaskRow(_Parties, TaskView):
    """A task as the officers' list shows it: the task, when it came, whether it is late, and its case."""
    created_at: datetime | None = None
    overdue: bool = False
    process_id: str = ""
    process_name: str = ""
    stage: str | None = None
    fields: dict = field(default_factory=dict)



_TASK_COLUMNS = (human_tasks, instances.c.process_id, instances.c.stage, instances.c.fields,
                 definitions.c.name.label("process_name"))


def _task_row(r, now: datetime) -> TaskRow:
    return TaskRow(r.task_id, r.instance_id, r.bpmn_id, r.name, r.role, r.court, r.case_no, r.claimed_by, r.due_at,
                   bool(r.due_provisional), r.created_at, r.due_at is not None and r.due_at < now, r.process_id,
                   r.process_name, r.stage, r.fields or {})


def _task_select():
    return sa.select(*_TASK_COLUMNS).join(instances, instances.c.id == human_tasks.c.instance_id) \
        .join(definitions, definitions.c.id == instances.c.definition_id)


def task_list(conn, username: str, now: datetime, *, scope: str = "mine", role: str | None = None,
              case_no: str | None = None, overdue: bool = False, claim: str | None = None, sort: str = "due",
              page: int = 1, per_page: int = 50) -> Page:
    """Open tasks of the user's roles in the user's courts (``scope="team"``: every open task of the courts where
    the user is a team leader), filtered, sorted (``due``: soonest first; ``created``: newest first), one page."""
    grants = roles_of(conn, username)
    if scope == "team":
        courts = sorted({c for c, r in grants if r in TEAM_LEADER_ROLES})
        visible: sa.ColumnElement[bool] = human_tasks.c.court.in_(courts) if courts else sa.false()
    else:
        visible = sa.or_(*(sa.and_(human_tasks.c.court == c, human_tasks.c.role == r) for c, r in grants)) \
            if grants else sa.false()
    where: list = [visible]
    if role:
        where.append(human_tasks.c.role == role)
    if case_no:
        where.append(human_tasks.c.case_no.contains(case_no.strip(), autoescape=True))
    if overdue:
        where.append(human_tasks.c.due_at < now)
    if claim == "mine":
        where.append(human_tasks.c.claimed_by == username)
    elif claim == "unclaimed":
        where.append(human_tasks.c.claimed_by.is_(None))
    order = (human_tasks.c.created_at.desc(), human_tasks.c.task_id) if sort == "created" else \
        (human_tasks.c.due_at.is_(None), human_tasks.c.due_at, human_tasks.c.created_at, human_tasks.c.task_id)
    page = max(1, page)
    total = conn.execute(sa.select(sa.func.count()).select_from(human_tasks).where(*where)).scalar()
    # the page is chosen on human_tasks alone, and only its rows are joined: joining first would read the
    # instance row of every visible task before sorting
    ids = sa.select(human_tasks.c.task_id).where(*where).order_by(*order).limit(per_page) \
        .offset((page - 1) * per_page).subquery()
    rows = conn.execute(_task_select().join(ids, ids.c.task_id == human_tasks.c.task_id).order_by(*order))
    return Page(tuple(_task_row(r, now) for r in rows), total, page, per_page)


def colleagues(conn, court: str, role: str) -> list[tuple[str, str]]:
    """``(username, display name)`` of the active users holding ``role`` in ``court`` (whom a task may go to)."""
    rows = conn.execute(sa.select(users.c.username, users.c.display_name)
                        .join(user_roles, user_roles.c.user_id == users.c.id)
                        .where(user_roles.c.court == court, user_roles.c.role == role, users.c.active.is_(True))
                        .order_by(users.c.username))
    return [(r.username, r.display_name) for r in rows]


# -- the task page ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskDetail:
    task: TaskRow
    instance_status: str
    form: dict | None            # JSON Schema of the task's form, if it has one
    ui: dict | None              # its optional UI schema (ui:order, ui:widget, ui:help, ...)
    instructions: str | None     # instructionsForEndUser
    documentation: str | None    # the task's bpmn:documentation
    facts: dict                  # FACTS of the case that are set (parties, amount, ...)


def task_detail(conn, task_id: str, now: datetime) -> TaskDetail:
    row = conn.execute(_task_select().add_columns(instances.c.status.label("instance_status"),
                                                  definitions.c.meta, definitions.c.id.label("definition_id"))
                       .where(human_tasks.c.task_id == task_id)).first()
    if row is None:
        raise NotFound(f"task {task_id} is not open (it was completed, cancelled, or never existed)")
    meta = (row.meta or {}).get("user_tasks", {}).get(row.bpmn_id, {})
    node = node_info(conn, row.definition_id).get(row.bpmn_id, {})
    header = conn.execute(sa.select(cases).join(instances, instances.c.case_id == cases.c.id)
                          .where(instances.c.id == row.instance_id)).first()
    form = meta.get("form")
    if bound(form):       # the case's own choices and computed values, as the engine will check them
        form = bind_choices(form, facts_for(conn, header.id if header else None),
                            lambda role: court_users(conn, row.court, role))
    header = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in (header._mapping if header else {}).items()}
    return TaskDetail(_task_row(row, now), row.instance_status, form, meta.get("ui"),
                      meta.get("instructions"), node.get("documentation"), _facts([header, row.fields or {}]))


def _facts(sources: list[dict]) -> dict:
    """The FACTS set in the first source that has each (case fields before case data)."""
    facts = {}
    for values in sources:
        for key in FACTS:
            if key not in facts and fact(values, key) is not None:
                facts[key] = fact(values, key)
    return facts


_NODES: dict = {}


def node_info(conn, definition_id: int) -> dict[str, dict]:
    """``bpmn_id`` → name and documentation of every node of a deployed version (for the timeline and the task
    page). A version never changes, so it is parsed once per process, keyed by its content hash."""
    content_hash = conn.execute(sa.select(definitions.c.content_hash)
                                .where(definitions.c.id == definition_id)).scalar()
    if content_hash not in _NODES:
        text = conn.execute(sa.select(definitions.c.spec_json).where(definitions.c.id == definition_id)).scalar()
        specs = json.loads(text or "{}")
        nodes = {}
        for spec in [specs.get("spec") or {}, *(specs.get("subprocess_specs") or {}).values()]:
            for task_spec in (spec.get("task_specs") or {}).values():
                if task_spec.get("bpmn_id"):
                    nodes[task_spec["bpmn_id"]] = {"name": task_spec.get("bpmn_name") or task_spec["bpmn_id"],
                                                   "documentation": task_spec.get("documentation")}
        _NODES[content_hash] = nodes
    return _NODES[content_hash]


# -- drafts -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Draft:
    values: dict
    saved_at: datetime


def load_draft(conn, task_id: str, username: str) -> Draft | None:
    row = conn.execute(sa.select(task_drafts.c.data, task_drafts.c.saved_at)
                       .where(task_drafts.c.task_id == task_id, task_drafts.c.username == username)).first()
    return Draft(row.data, row.saved_at) if row else None


def save_draft(conn, task_id: str, username: str, values: dict, now: datetime) -> Draft:
    """Keep what the user typed, as typed (it need not be valid yet)."""
    open_task = conn.execute(sa.select(human_tasks.c.task_id).where(human_tasks.c.task_id == task_id)).first()
    if open_task is None:
        raise NotFound(f"task {task_id} is not open; its draft cannot be saved")
    conn.execute(task_drafts.delete().where(task_drafts.c.task_id == task_id, task_drafts.c.username == username))
    conn.execute(task_drafts.insert().values(task_id=task_id, username=username, data=values, saved_at=now))
    return Draft(values, now)


# -- case search --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseRow(_Parties):
    instance_id: int
    case_no: str
    court: str
    process_id: str
    process_name: str
    status: str
    stage: str | None
    fields: dict
    started_at: datetime
    updated_at: datetime

    @property
    def case_type(self) -> str | None:
        return case_type(self.case_no)



def find_cases(conn, courts: list[str], query: str | None = None, status: str | None = None, page: int = 1,
               per_page: int = 50) -> OpenPage:
    """Cases (one row per instance) of ``courts``, newest first; ``query`` matches the case number or any case
    field (a party's name)."""
    where: list = [instances.c.court.in_(courts)]
    if status:
        where.append(instances.c.status == status)
    if query and query.strip():
        text = query.strip()
        escaped = json.dumps(text)[1:-1]          # how the JSON column spells non-ASCII text (\uXXXX)
        as_text = sa.cast(instances.c.fields, sa.Text)
        where.append(sa.or_(instances.c.case_no.contains(text, autoescape=True),
                            as_text.contains(text, autoescape=True), as_text.contains(escaped, autoescape=True)))
    page = max(1, page)
    rows = conn.execute(sa.select(instances.c.id, instances.c.case_no, instances.c.court, instances.c.process_id,
                                  instances.c.definition_id, instances.c.status, instances.c.stage,
                                  instances.c.fields, instances.c.started_at, instances.c.updated_at)
                        .where(*where).order_by(instances.c.id.desc())
                        .limit(per_page + 1).offset((page - 1) * per_page)).all()
    names = dict(conn.execute(sa.select(definitions.c.id, definitions.c.name)
                              .where(definitions.c.id.in_({r.definition_id for r in rows}))).all()) if rows else {}
    return OpenPage(tuple(CaseRow(r.id, r.case_no, r.court, r.process_id, names.get(r.definition_id, r.process_id),
                                  r.status, r.stage, r.fields or {}, r.started_at, r.updated_at)
                          for r in rows[:per_page]), page, per_page, len(rows) > per_page)


# -- the case page ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseInstance:
    id: int
    process_id: str
    process_name: str
    version: int
    status: str
    stage: str | None
    court: str
    related_case_no: str | None
    parent_id: int | None
    started_at: datetime
    ended_at: datetime | None
    definition_id: int
    fields: dict


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    actor_name: str | None
    action: str
    bpmn_id: str | None
    node_name: str | None
    instance_id: int
    data: dict


@dataclass(frozen=True)
class RelatedCase:
    case_no: str
    relation: str               # parent (the case this one belongs to) | child (objection, review, ...) | called
    case_type: str | None       # 执异, 执复, 执恢, 破申, ...
    process_name: str
    status: str
    court: str


@dataclass(frozen=True)
class CaseFile:
    case_no: str
    court: str
    instances: tuple
    facts: dict                 # FACTS that are set
    searches: tuple             # asset searches done (网络查控): when, which channel, how many assets found
    assets: tuple               # dicts: the search result's asset, plus ``measures`` (control, renewal, release)
    receipts: tuple
    payouts: tuple
    money: dict                 # received, paid_out, balance (yuan, as text)
    documents: tuple
    open_tasks: tuple
    timeline: tuple
    related: tuple

    @property
    def case_type(self) -> str | None:
        return case_type(self.case_no)


def case_type(case_no: str) -> str | None:
    match = CASE_NUMBER.match(case_no or "")
    return match.group(3) if match else None


def _case_instances(conn, case_no: str, courts: list[str]) -> list[CaseInstance]:
    rows = conn.execute(sa.select(instances.c.id, instances.c.process_id, definitions.c.name, definitions.c.version,
                                  instances.c.status, instances.c.stage, instances.c.court,
                                  instances.c.related_case_no, instances.c.parent_id, instances.c.started_at,
                                  instances.c.ended_at, instances.c.definition_id, instances.c.fields)
                        .join(definitions, definitions.c.id == instances.c.definition_id)
                        .where(instances.c.case_no == case_no, instances.c.court.in_(courts))
                        .order_by(instances.c.id)).all()
    if not rows:     # also when the case belongs to another court: say nothing about it
        raise NotFound(f"case {case_no} was not found in your courts")
    return [CaseInstance(*r[:-1], r.fields or {}) for r in rows]  # type: ignore[call-arg]  # 12 columns, then fields


def case_file(conn, case_no: str, courts: list[str], now: datetime) -> CaseFile:
    """The case page: the case row and its records (案卷), its procedure instances under it, open tasks, log.
    Nothing is read from the workflows' data: only what the engine recorded reaches the page."""
    own = _case_instances(conn, case_no, courts)
    row = conn.execute(sa.select(cases).where(cases.c.case_no == case_no, cases.c.court.in_(courts))
                       .order_by(cases.c.id).limit(1)).first()
    records = load_records(conn, row.id) if row is not None else []
    header = dict(row._mapping) if row is not None else {}
    facts = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in header.items()
             if k in FACTS and v not in (None, "")}
    for inst in own:                       # a case without a row yet (never saved since the migration)
        for key, value in _facts([inst.fields]).items():
            facts.setdefault(key, value)
    reader = CaseFacts(records, header)
    ids = [i.id for i in own]
    open_rows = conn.execute(_task_select().where(human_tasks.c.instance_id.in_(ids))
                             .order_by(human_tasks.c.due_at.is_(None), human_tasks.c.due_at))
    receipts = tuple(dict(r.body, source_cn=SOURCES.get(r.body.get("source") or ""), record_id=r.id)
                     for r in records if r.kind == "receipt")
    payouts = tuple(dict(r.body, purpose_cn=PURPOSES.get(r.body.get("purpose") or ""), record_id=r.id)
                    for r in records if r.kind == "payout")
    money = {"received": f"{reader.received():.2f}", "paid_out": f"{reader.paid_out():.2f}",
             "balance": f"{reader.balance():.2f}"}
    # newest first, each named as the court names it (a record made outside a handler may carry only its type)
    documents = tuple(dict(r.body, record_id=r.id, title=r.body.get("title") or _document_title(r.body.get("doc_type")))
                      for r in reversed(records) if r.kind == "document")
    return CaseFile(case_no, own[0].court, tuple(own), facts, _searches(records), _assets(records, reader, now),
                    receipts, payouts, money, documents, tuple(_task_row(r, now) for r in open_rows),
                    _timeline(conn, own), _related(conn, case_no, own, courts))


CHANNELS_CN = {"national": "总对总", "local": "点对点", "field": "现场调查"}
MEASURES_CN = {"freeze": "冻结", "seize": "查封", "impound": "扣押"}
SOURCES = {"transfer": "扣划存款", "voluntary": "主动履行", "auction": "拍卖/变卖价款", "other": "其他"}
PURPOSES = {"applicant": "发放申请执行人", "costs": "执行费用", "creditor": "参与分配债权人", "refund": "退还被执行人"}


def _searches(records) -> tuple:
    found: dict = {}
    for r in records:
        if r.kind == "asset" and r.body.get("search_id"):
            found[r.body["search_id"]] = found.get(r.body["search_id"], 0) + 1
    return tuple({"query_id": r.body["search_id"], "queried_at": r.body.get("searched_at"),
                  "channel": r.body.get("channel"), "channel_cn": CHANNELS_CN.get(r.body.get("channel")),
                  "complete": r.body.get("complete"), "found": r.body.get("found"),
                  "assets": found.get(r.body["search_id"], 0), "record_id": r.id}
                 for r in records if r.kind == "asset_search")


def _assets(records, reader, now: datetime) -> tuple:
    """Assets found, each with its control measures as they stand now (renewals and releases applied)."""
    today = now.astimezone(COURT_TZ).date()
    searches = {r.body["search_id"]: r.body for r in records if r.kind == "asset_search"}
    undisposable = {u["asset_id"]: u for u in reader.undisposable()}
    assets: dict[str, dict] = {}
    for asset in reader.assets():
        search = searches.get(asset.get("search_id")) or {}
        assets[asset["asset_id"]] = dict(asset, found_at=search.get("searched_at"),
                                         channel_cn=CHANNELS_CN.get(search.get("channel") or ""), measures=[],
                                         undisposable=undisposable.get(asset["asset_id"]))
    for measure in reader.measures():
        measure = dict(measure, measure_cn=MEASURES_CN.get(measure.get("measure")))
        measure["days_left"] = _days_left(measure.get("expires_on"), today) \
            if measure.get("status") == "in_force" else None
        measure["expiring"] = measure["days_left"] is not None and measure["days_left"] <= EXPIRY_WARNING_DAYS
        asset_id = measure.get("asset_id") or measure["measure_id"]
        assets.setdefault(asset_id, {"asset_id": asset_id, "measures": []})["measures"].append(measure)
    return tuple(assets.values())


def case_document(conn, case_no: str, record_id: int, courts: list[str], document_dir: Path) -> Path:
    """The file of a document record of the case; ``NotFound`` for anything else (other cases, other courts,
    records that are not documents)."""
    row = conn.execute(sa.select(case_records.c.body).join(cases, cases.c.id == case_records.c.case_id)
                       .where(case_records.c.id == record_id, case_records.c.kind == "document",
                              cases.c.case_no == case_no, cases.c.court.in_(courts))).first()
    if row is None:
        raise NotFound(f"case {case_no} has no document {record_id}")
    file = (document_dir / row.body["path"]).resolve()
    if document_dir.resolve() not in file.parents or not file.is_file():
        raise NotFound(f"the document {record_id} of case {case_no} is missing from the document store")
    return file


def _timeline(conn, own: list[CaseInstance]) -> tuple:
    """执行日志: every event of the case's instances, oldest first, with who did it."""
    by_id = {i.id: i for i in own}
    rows = conn.execute(sa.select(events.c.instance_id, events.c.at, events.c.actor, events.c.action,
                                  events.c.bpmn_id, events.c.data, users.c.display_name)
                        .outerjoin(users, users.c.username == events.c.actor)
                        .where(events.c.instance_id.in_(list(by_id)))
                        .order_by(events.c.at, events.c.instance_id, events.c.seq).limit(TIMELINE_LIMIT))
    out = []
    for r in rows:
        nodes = node_info(conn, by_id[r.instance_id].definition_id)
        name = nodes.get(r.bpmn_id, {}).get("name") if r.bpmn_id else None
        out.append(TimelineEntry(r.at, r.actor, r.display_name, r.action, r.bpmn_id, name, r.instance_id,
                                 r.data or {}))
    return tuple(out)


def _related(conn, case_no: str, own: list[CaseInstance], courts: list[str]) -> tuple:
    """Cases linked to this one by ``related_case_no`` (both ways) or by a parent instance, in the user's courts."""
    ids = [i.id for i in own]
    parents = {i.related_case_no for i in own if i.related_case_no}
    parent_ids = {i.parent_id for i in own if i.parent_id}
    links = [("parent", instances.c.case_no.in_(parents), parents),
             ("parent", instances.c.id.in_(parent_ids), parent_ids),
             ("child", instances.c.related_case_no == case_no, True),
             ("called", instances.c.parent_id.in_(ids), ids)]
    seen: dict[str, RelatedCase] = {}
    for relation, condition, needed in links:
        if not needed:
            continue
        rows = conn.execute(sa.select(instances.c.case_no, instances.c.status, instances.c.court, definitions.c.name)
                            .join(definitions, definitions.c.id == instances.c.definition_id)
                            .where(condition, instances.c.court.in_(courts), instances.c.case_no != case_no)
                            .order_by(instances.c.id))
        for r in rows:
            seen.setdefault(r.case_no, RelatedCase(r.case_no, relation, case_type(r.case_no), r.name, r.status,
                                                   r.court))
    return tuple(seen.values())


def _days_left(expires_on, today: date) -> int | None:
    try:
        return (date.fromisoformat(str(expires_on)[:10]) - today).days
    except ValueError:
        return None


# -- the facade ---------------------------------------------------------------------------------------------
class Casework:
    """``Engine.casework``: the officers' verbs and reads. The web layer passes the courts the user may see
    (``courts``); every read is limited to them."""

    def __init__(self, executor):
        self.executor = executor

    def _now(self) -> datetime:
        return self.executor.clock.now()

    def _read(self, fn):
        return self.executor.read(fn)

    def tasks(self, username: str, **filters) -> Page:
        return self._read(lambda conn: task_list(conn, username, self._now(), **filters))

    def task(self, task_id: str) -> TaskDetail:
        return self._read(lambda conn: task_detail(conn, task_id, self._now()))

    def colleagues(self, court: str, role: str) -> list[tuple[str, str]]:
        return self._read(lambda conn: colleagues(conn, court, role))

    def reassign(self, task_id: str, actor: str, target: str) -> None:
        self.executor.run(ReassignTask(task_id, actor, target))

    def draft(self, task_id: str, username: str) -> Draft | None:
        return self._read(lambda conn: load_draft(conn, task_id, username))

    def save_draft(self, task_id: str, username: str, values: dict) -> Draft:
        return self.executor.run(OfficeWrite(lambda conn, now: save_draft(conn, task_id, username, dict(values), now)))

    def find_cases(self, courts: list[str], query: str | None = None, **filters) -> OpenPage:
        return self._read(lambda conn: find_cases(conn, courts, query, **filters))

    def case(self, case_no: str, courts: list[str]) -> CaseFile:
        return self._read(lambda conn: case_file(conn, case_no, courts, self._now()))

    def document(self, case_no: str, record_id: int, courts: list[str]) -> Path:
        """The .docx of a document record of the case (``document.generate`` writes under
        ``ZHIXING_DOCUMENT_DIR``)."""
        from handlers.documents.handlers import document_dir  # importing it registers the handler: only here
        return self._read(lambda conn: case_document(conn, case_no, record_id, courts, document_dir()))


def _document_title(doc_type: str | None) -> str | None:
    from handlers.documents.catalogue import DOC_TYPES
    return DOC_TYPES[doc_type][1] if doc_type in DOC_TYPES else doc_type
