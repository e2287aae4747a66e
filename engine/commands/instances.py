"""Start, suspend, resume and terminate instances."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from engine.court.courts import next_case_number
from engine.errors import InvalidInput, StateError
from engine.kernel import runtime
from engine.kernel.casefile import start_records
from engine.kernel.unit_of_work import InstanceHandle, UnitOfWork
from engine.store.tables import jobs, messages
from engine.views import InstanceView


def instance_view(uow: UnitOfWork, handle: InstanceHandle) -> InstanceView:
    tasks = tuple(sorted(t.bpmn_id for t in handle.before.human.values()))
    return InstanceView(handle.id, handle.definition.process_id, handle.definition.version, handle.case_no,
                        handle.court, handle.status, tasks)


@dataclass(frozen=True)
class StartInstance:
    """Start a case. Without a case number, one is allocated from the court's counter for the process's
    ``caseType`` (e.g. 执异 for an objection review linked to its enforcement case by ``related_case_no``)."""

    process_id: str
    case_no: str | None
    court: str
    actor: str
    data: dict = field(default_factory=dict)
    version: int | None = None
    parent_id: int | None = None
    message: tuple | None = None    # (name, payload) for a message start event
    related_case_no: str | None = None
    records: tuple = ()             # case-file records the filing (or an import) brings: ({"kind", "body"}, ...)

    def execute(self, uow: UnitOfWork) -> InstanceView:
        if not self.court:
            raise InvalidInput("say which court the case belongs to", {"court": "required"})
        definition = uow.latest_definition(self.process_id, self.version)
        case_no = self.case_no
        if not case_no:
            if not definition.meta.get("case_type"):
                raise InvalidInput(f"'{self.process_id}' declares no caseType: give a case number",
                                   {"case_no": "required"})
            case_no = next_case_number(uow.conn, self.court, definition.meta["case_type"], uow.now)
        handle = uow.create(definition, case_no, self.court, self.parent_id, self.related_case_no)
        uow.open_case(handle, self.data)
        uow.add_records(handle, start_records(self.records, self.related_case_no, self.court), via="start",
                        source=self.process_id, actor=self.actor)
        start = handle.workflow.get_next_task(spec_name="Start")
        start.data.update(dict(self.data, case_no=case_no, court=self.court,
                               court_settings=uow.court_settings(self.court)))
        if self.related_case_no:
            start.data["related_case_no"] = self.related_case_no
        uow.log(handle, self.actor, "instance_started", data={"definition": definition.label, **self.data})
        runtime.run_engine(handle.workflow)
        if self.message is not None:
            name, payload = self.message
            runtime.deliver_message(handle.workflow, name, payload)
            uow.log(handle, self.actor, "message_received", data={"name": name, "payload": payload})
            runtime.run_engine(handle.workflow)
        uow.save(handle)
        return instance_view(uow, handle)


@dataclass(frozen=True)
class ChangeInstanceStatus:
    """Suspend, resume or terminate, always with a reason (audited)."""

    instance_id: int
    action: str          # suspend | resume | terminate
    actor: str
    reason: str

    ALLOWED = {"suspend": ("running", "suspended"), "resume": ("suspended", "running"),
               "terminate": (None, "terminated")}

    def execute(self, uow: UnitOfWork) -> InstanceView:
        if self.action not in self.ALLOWED:
            raise InvalidInput(f"unknown action '{self.action}'")
        if not self.reason.strip():
            raise InvalidInput("a reason is required", {"reason": "required"})
        handle = uow.load(self.instance_id)
        need, new_status = self.ALLOWED[self.action]
        if handle.status in ("completed", "terminated") or (need and handle.status != need):
            raise StateError(f"case {handle.case_no} is {handle.status}; cannot {self.action} it")
        uow.log(handle, self.actor, f"instance_{self.action}", data={"reason": self.reason})
        if self.action == "terminate":
            handle.workflow.cancel()
        job_status = {"suspend": ("ready", "suspended"), "resume": ("suspended", "ready")}.get(self.action)
        if job_status:
            uow.conn.execute(jobs.update().where(jobs.c.instance_id == handle.id, jobs.c.status == job_status[0])
                             .values(status=job_status[1], updated_at=uow.now))
        uow.save(handle, status=new_status)
        if self.action == "resume":
            held = uow.conn.execute(sa.select(messages).where(messages.c.status == "held",
                                                              messages.c.delivered_to == handle.id)).all()
            for msg in held:
                uow.queue_inbox_message(msg)
        return instance_view(uow, handle)


def assert_running(handle: InstanceHandle) -> None:
    if handle.status != "running":
        raise StateError(f"case {handle.case_no} is {handle.status}; resume it first" if handle.status == "suspended"
                         else f"case {handle.case_no} is {handle.status}")

