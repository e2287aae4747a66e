"""The execution log (执行日志) for process-mining tools: XES (IEEE 1849-2016) and OCEL 2.0 (JSON).

What is exported: the events of a court's procedure instances (one procedure, or all) that happened in a period
of court days (Beijing time, both days included), read from the append-only ``events`` table. Activities carry
the names of the diagrams' elements (Chinese, as the officers see them); events without an element (the start,
the end, a message) a fixed Chinese label. People are shown by their display name (``org:resource``), their
user name kept beside it; ``system`` is 系统.

* **XES**: one trace per procedure instance (its events in log order), named by its case number (with ``#id``
  when a case has several instances in the export); a claim is the task's ``assign`` transition, a completion its
  ``complete``.
* **OCEL 2.0**: objects of four types, 案件 (the case, by case number), 流程实例 (a procedure instance), 任务 (a
  task, for events that name one) and 人员 (a person); each event is related to its instance, its case, its task
  and the person who did it.

Both are written while the events are read (``yield_per``), never built whole in memory: only the instances of
the export and, for OCEL, the ids of the tasks and people met are kept (their objects are written after the
events; JSON keys have no order).
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from xml.sax.saxutils import quoteattr

import sqlalchemy as sa

from engine.errors import InvalidInput
from engine.legaltime.periods import COURT_TZ
from engine.store.tables import definitions, events, instances, users
from engine.workspaces.casework import node_info

FORMATS = {"xes": ("application/xml", "xes"), "ocel": ("application/json", "jsonocel")}
SYSTEM = "系统"
BATCH = 1000                 # events read (and written) at a time
ACTIONS = {
    "instance_started": "立案 / 启动流程", "instance_completed": "流程结束", "instance_terminated": "流程终止",
    "instance_suspend": "中止", "instance_resume": "恢复", "instance_terminate": "终结",
    "instance_migrated": "迁移流程版本", "message_received": "收到消息", "message_thrown": "发出消息",
    "message_held": "消息暂存（案件中止中）", "timer_fired": "期限届满 / 定时触发",
    "job_failed": "系统办理失败", "incident_opened": "系统异常", "incident_retried": "异常重试",
}
TRANSITIONS = {"task_claimed": "assign", "task_reassigned": "reassign", "task_unclaimed": "withdraw"}
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Instance:
    id: int
    case_no: str
    process_id: str
    procedure: str           # the procedure's name in its diagram
    version: int
    court: str
    status: str
    definition_id: int
    trace: str               # the XES trace name


@dataclass(frozen=True)
class LogExport:
    """An export ready to stream: what it covers (counted before the first byte) and its chunks."""

    fmt: str
    court: str
    process_id: str | None
    start: date
    end: date
    instances: int
    events: int
    chunks: Iterator[str]

    @property
    def mimetype(self) -> str:
        return FORMATS[self.fmt][0]

    @property
    def filename(self) -> str:
        what = "-".join(filter(None, [self.court, self.process_id, self.start.isoformat(), self.end.isoformat()]))
        return f"zhixing-log-{what}.{FORMATS[self.fmt][1]}"


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Court days (Beijing) as a UTC half-open interval."""
    return (datetime.combine(start, time(0), COURT_TZ).astimezone(UTC),
            datetime.combine(end + timedelta(days=1), time(0), COURT_TZ).astimezone(UTC))


def _text(value) -> str:
    return _BAD_XML.sub("", str(value))


@functools.lru_cache(maxsize=8192)
def _q(value) -> str:
    """An XML attribute value, quoted; names, people and actions repeat, so each is escaped once."""
    return quoteattr(_text(value))


def _local(moment: datetime) -> str:
    return moment.astimezone(COURT_TZ).isoformat(timespec="milliseconds")


def prepare(db: sa.Engine, fmt: str, court: str, process_id: str | None, start: date, end: date) -> LogExport:
    """Check the request and find the instances; the events are read when the chunks are consumed (on their own
    connection, so a web response can stream them after the view returns)."""
    problems = {}
    if fmt not in FORMATS:
        problems["format"] = f"one of {', '.join(FORMATS)}"
    if not court or not court.strip():
        problems["court"] = "required"
    if end < start:
        problems["to"] = "the last day comes before the first"
    if problems:
        raise InvalidInput("the execution log was not exported: " + "; ".join(f"{k}: {v}" for k, v in problems.items()),
                           problems)
    low, high = _bounds(start, end)
    with db.connect() as conn:
        if process_id and conn.execute(sa.select(definitions.c.id).where(definitions.c.process_id == process_id)
                                       .limit(1)).first() is None:
            raise InvalidInput(f"no procedure {process_id!r} is deployed", {"procedure": "unknown procedure"})
        where = [instances.c.court == court]
        if process_id:
            where.append(instances.c.process_id == process_id)
        in_period = sa.exists().where(events.c.instance_id == instances.c.id, events.c.at >= low, events.c.at < high)
        rows = conn.execute(sa.select(instances.c.id, instances.c.case_no, instances.c.process_id,
                                      instances.c.court, instances.c.status, instances.c.definition_id,
                                      definitions.c.version, definitions.c.name)
                            .join(definitions, definitions.c.id == instances.c.definition_id)
                            .where(*where, in_period).order_by(instances.c.id)).all()
        count = conn.execute(sa.select(sa.func.count()).select_from(events).join(
            instances, instances.c.id == events.c.instance_id).where(*where, events.c.at >= low,
                                                                      events.c.at < high)).scalar_one()
    per_case: dict[str, int] = {}
    for r in rows:
        per_case[r.case_no] = per_case.get(r.case_no, 0) + 1
    found = {r.id: Instance(r.id, r.case_no, r.process_id, r.name, r.version, r.court, r.status, r.definition_id,
                            r.case_no if per_case[r.case_no] == 1 else f"{r.case_no} #{r.id}") for r in rows}
    chunks = (_xes if fmt == "xes" else _ocel)(db, found, low, high)
    return LogExport(fmt, court, process_id, start, end, len(found), count, chunks)


class _Events:
    """The events of the export's instances in the period, in log order, with what a tool needs to show them."""

    def __init__(self, db: sa.Engine, found: dict[int, Instance], low: datetime, high: datetime):
        self.db, self.found, self.low, self.high = db, found, low, high

    def __iter__(self):
        if not self.found:
            return
        with self.db.connect() as conn:
            people = {r.username: r.display_name for r in conn.execute(sa.select(users.c.username,
                                                                                 users.c.display_name))}
            nodes = {d: node_info(conn, d) for d in {i.definition_id for i in self.found.values()}}
            ids = list(self.found)
            for at in range(0, len(ids), 5000):          # the instances by slices: bound parameters stay few
                part = ids[at:at + 5000]
                message = sa.case((events.c.action.like("message%"), events.c.data), else_=sa.null())
                query = (sa.select(events.c.id, events.c.instance_id, events.c.seq, events.c.at, events.c.actor,
                                   events.c.action, events.c.task_id, events.c.bpmn_id,
                                   sa.type_coerce(message, events.c.data.type).label("data"))
                         .where(events.c.instance_id.in_(part), events.c.at >= self.low, events.c.at < self.high)
                         .order_by(events.c.instance_id, events.c.seq))
                for row in conn.execution_options(yield_per=BATCH).execute(query):
                    inst = self.found[row.instance_id]
                    element = nodes[inst.definition_id].get(row.bpmn_id, {}).get("name") if row.bpmn_id else None
                    activity = element or ACTIONS.get(row.action, row.action)
                    if row.action.startswith("message_") and isinstance(row.data, dict) and row.data.get("name"):
                        activity = f"{activity}：{row.data['name']}"
                    person = SYSTEM if row.actor == "system" else people.get(row.actor, row.actor)
                    yield inst, row, activity, person


def _xes(db, found, low, high) -> Iterator[str]:
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">\n'
           '<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n'
           '<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>\n'
           '<extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>\n'
           '<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>\n'
           '<global scope="trace"><string key="concept:name" value="__INVALID__"/></global>\n'
           '<global scope="event"><string key="concept:name" value="__INVALID__"/>'
           '<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>'
           '<string key="lifecycle:transition" value="complete"/></global>\n'
           '<classifier name="Activity" keys="concept:name"/>\n'
           '<classifier name="Activity and transition" keys="concept:name lifecycle:transition"/>\n'
           '<string key="concept:name" value="执行日志 zhixing"/>\n')
    current, out = None, []
    for n, (inst, row, activity, person) in enumerate(_Events(db, found, low, high), 1):
        if inst.id != current:
            if current is not None:
                out.append("</trace>\n")
            current = inst.id
            out.append(f'<trace><string key="concept:name" value={_q(inst.trace)}/>'
                       f'<string key="case_no" value={_q(inst.case_no)}/>'
                       f'<int key="instance" value="{inst.id}"/>'
                       f'<string key="procedure" value={_q(inst.process_id)}/>'
                       f'<string key="procedure_name" value={_q(inst.procedure)}/>'
                       f'<int key="version" value="{inst.version}"/>'
                       f'<string key="court" value={_q(inst.court)}/>'
                       f'<string key="status" value={_q(inst.status)}/>\n')
        out.append(f'<event><string key="concept:name" value={_q(activity)}/>'
                   f'<date key="time:timestamp" value="{_local(row.at)}"/>'
                   f'<string key="lifecycle:transition" value="{TRANSITIONS.get(row.action, "complete")}"/>'
                   f'<string key="org:resource" value={_q(person)}/>'
                   f'<string key="actor" value={_q(row.actor)}/>'
                   f'<string key="action" value={_q(row.action)}/>'
                   f'<int key="seq" value="{row.seq}"/>'
                   + (f'<string key="element" value={_q(row.bpmn_id)}/>' if row.bpmn_id else "")
                   + (f'<string key="task" value="{row.task_id}"/>' if row.task_id else "")   # a uuid
                   + "</event>\n")
        if n % BATCH == 0:
            yield "".join(out)
            out.clear()
    if current is not None:
        out.append("</trace>\n")
    out.append("</log>\n")
    yield "".join(out)


def _attr(name: str, value) -> dict:
    return {"name": name, "value": value}


def _ocel(db, found, low, high) -> Iterator[str]:
    dump = json.dumps
    yield '{"events": [\n'
    activities: set[str] = set()
    tasks: dict[str, tuple[str, str, int]] = {}      # task id → (name, element, instance)
    people: dict[str, str] = {}
    out: list[str] = []
    for n, (inst, row, activity, person) in enumerate(_Events(db, found, low, high)):
        activities.add(activity)
        relations = [{"objectId": f"instance:{inst.id}", "qualifier": "流程实例"},
                     {"objectId": f"case:{inst.case_no}", "qualifier": "案件"}]
        if row.task_id:
            tasks.setdefault(row.task_id, (activity, row.bpmn_id or "", inst.id))
            relations.append({"objectId": f"task:{row.task_id}", "qualifier": "任务"})
        people.setdefault(row.actor, person)
        relations.append({"objectId": f"person:{row.actor}", "qualifier": "办理人"})
        out.append(("," if n else "") + dump({
            "id": f"e{row.id}", "type": activity, "time": _local(row.at),
            "attributes": [_attr("action", row.action), _attr("lifecycle", TRANSITIONS.get(row.action, "complete")),
                           _attr("seq", row.seq), _attr("element", row.bpmn_id or "")],
            "relationships": relations}, ensure_ascii=False) + "\n")
        if len(out) == BATCH:
            yield "".join(out)
            out.clear()
    yield "".join(out) + "],\n"
    event_attrs = [{"name": "action", "type": "string"}, {"name": "lifecycle", "type": "string"},
                   {"name": "seq", "type": "integer"}, {"name": "element", "type": "string"}]
    yield '"eventTypes": ' + dump([{"name": a, "attributes": event_attrs} for a in sorted(activities)],
                                  ensure_ascii=False) + ",\n"

    def types(name, *attrs):
        return {"name": name, "attributes": [{"name": a, "type": "string"} for a in attrs]}

    yield '"objectTypes": ' + dump([types("案件", "court"), types("流程实例", "procedure", "procedure_name", "version",
                                                                 "status", "court"),
                                    types("任务", "name", "element"), types("人员", "name", "username")],
                                   ensure_ascii=False) + ',\n"objects": [\n'
    epoch = "1970-01-01T00:00:00Z"

    def obj(oid, otype, attrs, relations=()):
        return dump({"id": oid, "type": otype, "attributes": [{"name": k, "time": epoch, "value": v}
                                                               for k, v in attrs.items()],
                     "relationships": [{"objectId": o, "qualifier": q} for o, q in relations]}, ensure_ascii=False)

    first = True
    cases: dict[str, str] = {}
    for inst in found.values():
        cases.setdefault(inst.case_no, inst.court)
    lines = []
    for case_no, court in cases.items():
        lines.append(obj(f"case:{case_no}", "案件", {"court": court}))
    for inst in found.values():
        lines.append(obj(f"instance:{inst.id}", "流程实例",
                         {"procedure": inst.process_id, "procedure_name": inst.procedure, "version": str(inst.version),
                          "status": inst.status, "court": inst.court}, [(f"case:{inst.case_no}", "案件")]))
        if len(lines) >= BATCH:
            yield ("" if first else ",\n") + ",\n".join(lines)
            first, lines = False, []
    for task_id, (name, element, instance_id) in tasks.items():
        lines.append(obj(f"task:{task_id}", "任务", {"name": name, "element": element},
                         [(f"instance:{instance_id}", "流程实例")]))
        if len(lines) >= BATCH:
            yield ("" if first else ",\n") + ",\n".join(lines)
            first, lines = False, []
    for username, name in people.items():
        lines.append(obj(f"person:{username}", "人员", {"name": name, "username": username}))
    if lines:
        yield ("" if first else ",\n") + ",\n".join(lines)
    yield "\n]}\n"
