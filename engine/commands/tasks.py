"""Claim, unclaim, reassign and complete human tasks, with the checks a court needs.

Completing checks, in order: the task is open, the user holds the lane's role in the case's court, nobody else
claimed it, the user is not barred by separation of duties (``excludeCompletersOf``: users who completed the named
tasks of the same case may not do this one, 审执分离), and the submitted data satisfies the task's form.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

import jsonschema
import sqlalchemy as sa

from engine.commands.instances import assert_running, instance_view
from engine.court.roles import ROLES, TEAM_LEADER_ROLES
from engine.errors import Forbidden, InvalidInput, NotFound, StateError
from engine.kernel import TaskState, runtime
from engine.kernel.casefile import bind_choices, bound, form_records
from engine.kernel.unit_of_work import UnitOfWork
from engine.legaltime.periods import COURT_TZ
from engine.store.casefile import header_values
from engine.store.tables import events, human_tasks, task_drafts, user_roles, users
from engine.views import InstanceView

# the formats a form may name, checked as Python reads them: a value the form says is a date is one (2026-02-30
# is not); jsonschema checks no format by default and date-time only with an optional package
FORM_FORMATS = jsonschema.FormatChecker(formats=())
FORM_FORMATS.checks("date", raises=ValueError)(
    lambda v: not isinstance(v, str) or bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)) and bool(date.fromisoformat(v)))
FORM_FORMATS.checks("date-time", raises=ValueError)(lambda v: not isinstance(v, str) or bool(datetime.fromisoformat(v)))
FORM_FORMATS.checks("time", raises=ValueError)(lambda v: not isinstance(v, str) or bool(time.fromisoformat(v)))


# the open task and whether the user holds its role in its court, in one statement built once
_HOLDS_ROLE = sa.exists().where(
    user_roles.c.user_id == users.c.id, users.c.username == sa.bindparam("username"), users.c.active.is_(True),
    user_roles.c.court == human_tasks.c.court, user_roles.c.role == human_tasks.c.role)
_OPEN_TASK = sa.select(human_tasks, _HOLDS_ROLE.label("allowed")).where(
    human_tasks.c.task_id == sa.bindparam("task_id"))
_DISCARD_DRAFTS = task_drafts.delete().where(task_drafts.c.task_id == sa.bindparam("task_id"))


def _holds(uow: UnitOfWork, username: str, court: str, roles) -> bool:
    """Whether the active user ``username`` holds one of ``roles`` in ``court``."""
    return uow.conn.execute(sa.select(user_roles.c.role).join(users, users.c.id == user_roles.c.user_id).where(
        users.c.username == username, users.c.active.is_(True), user_roles.c.court == court,
        user_roles.c.role.in_(roles)).limit(1)).first() is not None


def court_users(conn, court: str, role: str) -> list[tuple[str, str]]:
    """``(username, display name)`` of the active users holding ``role`` in ``court``."""
    rows = conn.execute(sa.select(users.c.username, users.c.display_name)
                        .join(user_roles, user_roles.c.user_id == users.c.id)
                        .where(user_roles.c.court == court, user_roles.c.role == role, users.c.active.is_(True))
                        .order_by(users.c.username))
    return [(r.username, r.display_name) for r in rows]


def _open_task(uow: UnitOfWork, task_id: str, username: str):
    """The open task, if ``username`` may work on it; raises ``NotFound`` or ``Forbidden`` otherwise."""
    row = uow.conn.execute(_OPEN_TASK, {"task_id": task_id, "username": username}).first()
    if row is None:
        raise NotFound(f"task {task_id} is not open (it was completed, cancelled, or never existed)",
                       code="task.not_open", task_id=task_id)
    if not row.allowed:
        label = ROLES.get(row.role, (row.role,))[0]
        raise Forbidden(f"'{row.name}' on case {row.case_no} needs the role {label} ({row.role}) "
                        f"in court {row.court}; user '{username}' does not hold it", code="task.role_missing",
                        role=row.role, court=row.court)
    return row


@dataclass(frozen=True)
class ClaimTask:
    task_id: str
    username: str
    release: bool = False       # True: unclaim

    def execute(self, uow: UnitOfWork) -> None:
        task = _open_task(uow, self.task_id, self.username)
        if self.release:
            if task.claimed_by != self.username:
                raise StateError(f"'{task.name}' is not claimed by you", code="task.not_claimed_by_you")
            new_owner, action = None, "task_unclaimed"
        else:
            if task.claimed_by and task.claimed_by != self.username:
                raise StateError(f"'{task.name}' is already claimed by {task.claimed_by}",
                                 code="task.claimed_by_other", claimed_by=task.claimed_by)
            new_owner, action = self.username, "task_claimed"
        uow.conn.execute(human_tasks.update().where(human_tasks.c.task_id == self.task_id)
                         .values(claimed_by=new_owner))
        uow.save_events(task.instance_id, self.username, action, self.task_id, task.bpmn_id)


@dataclass(frozen=True)
class ReassignTask:
    """A team leader (``TEAM_LEADER_ROLES`` in the task's court) hands an open task to a colleague who holds the
    task's role in the task's court; logged as ``task_reassigned`` with the previous and the new holder."""
    task_id: str
    actor: str
    target: str

    def execute(self, uow: UnitOfWork) -> None:
        task = uow.conn.execute(sa.select(human_tasks).where(human_tasks.c.task_id == self.task_id)).first()
        if task is None:
            raise NotFound(f"task {self.task_id} is not open (it was completed, cancelled, or never existed)",
                           code="task.not_open", task_id=self.task_id)
        if not _holds(uow, self.actor, task.court, TEAM_LEADER_ROLES):
            raise Forbidden(f"only a team leader ({', '.join(ROLES[r][0] for r in TEAM_LEADER_ROLES)}) of court "
                            f"{task.court} may reassign '{task.name}'", code="task.reassign_not_leader",
                            court=task.court)
        if not _holds(uow, self.target, task.court, (task.role,)):
            label = ROLES.get(task.role, (task.role,))[0]
            raise InvalidInput(f"'{self.target}' does not hold the role {label} ({task.role}) in court {task.court}",
                               {"target": "role"}, code="task.reassign_target_role", role=task.role,
                               court=task.court)
        if task.claimed_by == self.target:
            raise StateError(f"'{task.name}' is already with {self.target}", code="task.already_with",
                             target=self.target)
        uow.conn.execute(human_tasks.update().where(human_tasks.c.task_id == self.task_id)
                         .values(claimed_by=self.target))
        uow.save_events(task.instance_id, self.actor, "task_reassigned", self.task_id, task.bpmn_id,
                        data={"from": task.claimed_by, "to": self.target})


@dataclass(frozen=True)
class CompleteTask:
    task_id: str
    username: str
    data: dict = field(default_factory=dict)

    def execute(self, uow: UnitOfWork) -> InstanceView:
        row = _open_task(uow, self.task_id, self.username)
        if row.claimed_by and row.claimed_by != self.username:
            raise Forbidden(f"'{row.name}' is claimed by {row.claimed_by}", code="task.claimed_by_other",
                            claimed_by=row.claimed_by)
        handle = uow.load(row.instance_id)
        assert_running(handle)
        task = runtime.find_task(handle.workflow, self.task_id)
        if task is None or task.state != TaskState.READY:
            raise StateError(f"'{row.name}' is no longer ready on case {row.case_no}; reload the case",
                             code="task.not_ready")
        meta = handle.definition.meta["user_tasks"].get(row.bpmn_id, {})
        self._check_separation(uow, row, handle.related_case_no, meta.get("exclude", []))
        form = meta.get("form")
        if bound(form):
            form = bind_choices(form, handle.workflow.script_engine.case_source(),
                                lambda role: court_users(uow.conn, row.court, role))
        self._check_declared(form, row.name)
        self._check_form(form)
        today = uow.now.astimezone(COURT_TZ).date().isoformat()
        produced, header = form_records(meta.get("records", []), self.data, self.username, today)
        uow.add_records(handle, produced, via="form", source=row.bpmn_id, actor=self.username, task_id=self.task_id)
        if header and handle.case_id is not None:
            uow.set_header(handle.case_id, header_values(header))
        task.data.update(self.data)
        try:
            task.run()
            runtime.run_engine(handle.workflow)
        except Exception as exc:
            raise StateError(f"the procedure could not continue after '{row.name}': {runtime.describe_error(exc)}. "
                             "Nothing was saved; report this to the process designer.", code="step.failed",
                             task=row.name) from exc
        uow.log(handle, self.username, "task_completed", self.task_id, row.bpmn_id, data=self.data)
        uow.save(handle)
        uow.conn.execute(_DISCARD_DRAFTS, {"task_id": self.task_id})
        return instance_view(uow, handle)

    def _check_separation(self, uow: UnitOfWork, row, related_case_no: str | None, excluded: list[str]) -> None:
        """``excludeCompletersOf``: task ids of this case, ``related:ID`` of the related case (e.g. the
        enforcement case an objection review belongs to), ``related:*`` for any task of the related case."""
        if not excluded:
            return
        own = [x for x in excluded if not x.startswith("related:")]
        related = [x.removeprefix("related:") for x in excluded if x.startswith("related:")]
        done = sa.and_(events.c.action == "task_completed", events.c.actor == self.username)
        clauses = [sa.and_(events.c.case_no == row.case_no, events.c.bpmn_id.in_(own))] if own else []
        if related and related_case_no:
            on_related = events.c.case_no == related_case_no
            clauses.append(on_related if "*" in related else sa.and_(on_related, events.c.bpmn_id.in_(related)))
        if not clauses:
            return
        hit = uow.conn.execute(sa.select(events.c.case_no, events.c.bpmn_id)
                               .where(done, sa.or_(*clauses)).limit(1)).first()
        if hit is not None:
            raise Forbidden(f"separation of duties (审执分离): '{self.username}' completed '{hit.bpmn_id}' on case "
                            f"{hit.case_no} and may not do '{row.name}' on case {row.case_no}", code="sod.excluded",
                            completed=hit.bpmn_id, on_case=hit.case_no)

    def _check_declared(self, schema: dict | None, name: str) -> None:
        """Only the fields the task's form declares reach the case (a completion carrying any other field, say
        ``stage`` or a dict shaped like a receipt, is refused whole, naming the field)."""
        declared = set((schema or {}).get("properties") or {})
        extra = sorted(k for k in self.data if k not in declared)
        if extra:
            allowed = ", ".join(sorted(declared)) or "none: the task has no form"
            raise InvalidInput(f"'{name}' has no form field(s) {', '.join(extra)} (its form declares: {allowed})",
                               {k: "not a field of this form" for k in extra}, code="form.undeclared_field",
                               field=extra[0], fields=extra)

    def _check_form(self, schema: dict | None) -> None:
        if not schema:
            return
        errors = {}
        for error in jsonschema.Draft202012Validator(schema, format_checker=FORM_FORMATS).iter_errors(self.data):
            path = ".".join(str(p) for p in error.absolute_path)
            if error.validator == "required":
                missing = error.message.split("'")[1] if "'" in error.message else ""
                path = ".".join(filter(None, [path, missing]))
            errors.setdefault(path or "(form)", error.message)
        if errors:
            raise InvalidInput("the form has errors: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())),
                               errors, code="form.invalid")
