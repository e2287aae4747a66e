"""Start, suspend, resume and terminate instances."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from engine.court import boundaries
from engine.court.courts import next_case_number
from engine.errors import Forbidden, InvalidInput, StateError, ZhixingError
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
    ``caseType`` (e.g. 执异 for an objection review linked to its enforcement case by ``related_case_no``).

    The court boundaries (``engine.court.boundaries``) hold here: a supplied number must be official, the court's
    own and unused; ``related_case_no`` must name an existing case of this court (or, for a 执复/执监/执协 case, of
    a court below it), and is then recorded in ``case_relations``. A ``related_case_no`` in ``data`` is never
    honoured (the engine writes the recorded one into the case data). A process that separates duties from its
    related case (``excludeCompletersOf related:…``) cannot start without a recorded relation. ``of_case``:
    another procedure of an existing case (a clock, a listing, a transfer started by a message of that case),
    which keeps the case's number and must be in the case's court."""

    process_id: str
    case_no: str | None
    court: str
    actor: str
    data: dict = field(default_factory=dict)
    version: int | None = None
    parent_id: int | None = None
    message: tuple | None = None    # (name, payload) for a message start event
    related_case_no: str | None = None
    of_case: bool = False
    records: tuple = ()             # case-file records the filing (or an import) brings: ({"kind", "body"}, ...)

    def execute(self, uow: UnitOfWork) -> InstanceView:
        if not self.court:
            raise InvalidInput("say which court the case belongs to", {"court": "required"})
        definition = uow.latest_definition(self.process_id, self.version)
        case_type = definition.meta.get("case_type")
        case_no = self.case_no
        if not case_no:
            if not case_type:
                raise InvalidInput(f"'{self.process_id}' declares no caseType: give a case number",
                                   {"case_no": "required"})
            case_no = allocate_case_number(uow, self.court, case_type)
        elif self.of_case and boundaries.courts_of_case(uow.conn, case_no):
            found = boundaries.courts_of_case(uow.conn, case_no)
            if self.court not in found:
                raise Forbidden(f"case {case_no} belongs to court {', '.join(sorted(found))}; court {self.court} "
                                "cannot start a procedure of it", code="case_no.foreign_court", case_no=case_no,
                                court=self.court)
        else:
            boundaries.check_supplied_case_number(uow.conn, self.court, case_no)
        related, related_court = self.related_case_no, ""
        if related:
            if related == case_no:
                raise InvalidInput("related_case_no: a case is not related to itself", {"related_case_no": "self"},
                                   code="relation.self")
            related_court = boundaries.check_relation(uow.conn, self.court, related, case_no)
        elif needs_relation(definition.meta) and not boundaries.related_cases(uow.conn, case_no):
            raise InvalidInput(f"related_case_no: '{self.process_id}' separates duties from its related case "
                               "(excludeCompletersOf related:…); give the related case as related_case_no, the "
                               "engine checks and records it (a related_case_no in the case data is not read)",
                               {"related_case_no": "required"}, code="relation.required")
        data = {k: v for k, v in self.data.items() if k != "related_case_no"}
        handle = uow.create(definition, case_no, self.court, self.parent_id, related)
        if related:
            boundaries.record_relation(uow.conn, case_no, self.court, related, related_court,
                                       case_type or "related", handle.id, self.actor, uow.now)
        uow.open_case(handle, data)
        uow.add_records(handle, start_records(self.records, related, self.court), via="start",
                        source=self.process_id, actor=self.actor)
        start = handle.workflow.get_next_task(spec_name="Start")
        start.data.update(dict(data, case_no=case_no, court=self.court,
                               court_settings=uow.court_settings(self.court)))
        if related:
            start.data["related_case_no"] = related
        logged = dict(data, related_case_no=related) if related else data
        uow.log(handle, self.actor, "instance_started", data={"definition": definition.label, **logged})
        try:
            runtime.run_engine(handle.workflow)
            if self.message is not None:
                name, payload = self.message
                runtime.deliver_message(handle.workflow, name, payload)
                uow.log(handle, self.actor, "message_received", data={"name": name, "payload": payload})
                runtime.run_engine(handle.workflow)
        except ZhixingError:
            raise
        except Exception as exc:   # a script, budget or timer failure: a 409 as after a completion, not a 500
            raise StateError(f"case {case_no} could not start: {runtime.describe_error(exc)}. Nothing was saved; "
                             "report this to the process designer.") from exc
        uow.save(handle)
        return instance_view(uow, handle)


def needs_relation(meta: dict) -> bool:
    """Whether a user task of the process excludes the completers of tasks of the related case."""
    return any(str(x).startswith("related:") for task in (meta.get("user_tasks") or {}).values()
               for x in task.get("exclude") or ())


def allocate_case_number(uow: UnitOfWork, court: str, case_type: str) -> str:
    """The court's next number of this type and year, skipping numbers an imported case already uses."""
    for _ in range(1000):
        case_no = next_case_number(uow.conn, court, case_type, uow.now)
        if boundaries.number_is_free(uow.conn, case_no):
            return case_no
    raise InvalidInput(f"could not allocate a free {case_type} number for court {court}", code="case_no.exhausted")


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

