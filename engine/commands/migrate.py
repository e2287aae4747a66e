"""Move a running case to another version of its procedure, in one transaction, audited
(see engine.definitions.migration)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from engine.commands.instances import instance_view
from engine.definitions.migration import MigrationPlan, plan_migration
from engine.errors import InvalidInput, NotFound, StateError
from engine.kernel.unit_of_work import Definition, InstanceHandle, UnitOfWork
from engine.store.tables import human_tasks, instances, jobs, subscriptions
from engine.views import InstanceView


def check_movable(uow: UnitOfWork, handle: InstanceHandle, to_version: int, cache: dict | None = None,
                  verify: bool = True) -> tuple[Definition, MigrationPlan]:
    """The target definition and the plan of moving ``handle`` there (its workflow is migrated in memory;
    ``cache`` and ``verify`` as for ``plan_migration``)."""
    target = uow.latest_definition(handle.definition.process_id, to_version)
    plan = MigrationPlan()
    if target.id == handle.definition.id:
        plan.reasons.append(f"the case already runs on {target.label}")
    elif handle.status != "running":
        plan.reasons.append(f"the case is {handle.status}; only running cases move"
                            + (" (resume it first)" if handle.status == "suspended" else ""))
    elif uow.conn.execute(sa.select(jobs.c.id).where(jobs.c.instance_id == handle.id, jobs.c.status == "running")
                          .limit(1)).first() is not None:
        plan.reasons.append("a service call or timer of the case is running right now; try again in a minute")
    if plan.reasons:
        return target, plan
    return target, plan_migration(handle.workflow, handle.definition.meta, target.spec_json, target.meta, cache,
                                  verify)


@dataclass(frozen=True)
class MigrateInstance:
    """Re-bind a case's state to ``to_version`` of its process, or refuse with the reasons (``StateError``)."""

    instance_id: int
    to_version: int
    actor: str
    from_version: int | None = None     # when given, the case must still be on it (a preview may be stale)
    courts: tuple[str, ...] | None = None   # when given, the courts the actor may migrate in (the designer's)
    process_id: str | None = None       # when given, the procedure the case must run

    def execute(self, uow: UnitOfWork) -> InstanceView:
        handle = uow.load(self.instance_id)
        source = handle.definition
        if (self.courts is not None and handle.court not in self.courts) or \
                (self.process_id is not None and source.process_id != self.process_id):
            raise NotFound(f"instance {self.instance_id} does not exist", code="instance.not_found")
        if self.from_version is not None and source.version != self.from_version:
            raise InvalidInput(f"case {handle.case_no} runs on {source.label}, not version {self.from_version}")
        target, plan = check_movable(uow, handle, self.to_version)
        if not plan.ok:
            raise StateError(f"case {handle.case_no} cannot move from {source.label} to {target.label}: "
                             + "; ".join(plan.reasons))
        uow.log(handle, self.actor, "instance_migrated",
                data={"from": source.label, "to": target.label, "notes": plan.notes})
        before = handle.before
        handle.definition = target
        uow.save(handle)
        uow.conn.execute(instances.update().where(instances.c.id == handle.id).values(definition_id=target.id))
        self._resync(uow, handle, before, target.meta)
        return instance_view(uow, handle)

    @staticmethod
    def _resync(uow: UnitOfWork, handle: InstanceHandle, before, meta: dict) -> None:
        """``save`` adds and removes projection rows by task id; a task kept across versions may have a new name,
        lane or role (its claim is then released), and a kept wait may listen to a renamed message."""
        for tid, task in handle.before.human.items():
            if before.human.get(tid) in (None, task):
                continue
            role = (meta["user_tasks"].get(task.bpmn_id) or {}).get("role") or ""
            keep_claim = sa.case((human_tasks.c.role == role, human_tasks.c.claimed_by), else_=None)
            uow.conn.execute(human_tasks.update().where(human_tasks.c.task_id == tid)
                             .values(name=task.name, lane=task.lane, role=role, claimed_by=keep_claim))
        for tid, sub in handle.before.subscriptions.items():
            old = before.subscriptions.get(tid)
            if old is not None and old != sub:
                key = sub.key_value if sub.key_value is not None else handle.case_no
                uow.conn.execute(subscriptions.update().where(subscriptions.c.task_id == tid)
                                 .values(message_name=sub.message, correlation_key=str(key)))
