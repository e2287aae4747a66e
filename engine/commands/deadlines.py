"""Recompute provisional deadlines once the holiday table of their year arrives.

A deadline in a year without holiday data was computed on weekends only and marked provisional (timer jobs and
human-task due dates). After an admin stores that year's table, this command recomputes each from the moment it
started counting, on the new calendar.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from engine.kernel import runtime
from engine.kernel.unit_of_work import UnitOfWork
from engine.legaltime.timers import compute_deadline
from engine.store.tables import human_tasks, jobs


@dataclass(frozen=True)
class RecomputeProvisionalDeadlines:
    actor: str = "system"

    def execute(self, uow: UnitOfWork) -> int:
        changed = 0
        instance_ids = uow.conn.execute(sa.select(jobs.c.instance_id).distinct().where(
            jobs.c.kind == "timer", jobs.c.provisional.is_(True))).scalars().all()
        for instance_id in instance_ids:
            handle = uow.load(instance_id)
            for task_id in handle.before.timers:
                if runtime.recompute_timer(handle.workflow, task_id, compute_deadline):
                    changed += 1
            uow.save(handle)
        for row in uow.conn.execute(sa.select(human_tasks).where(human_tasks.c.due_provisional.is_(True))).all():
            meta = uow.definition(self._definition_id(uow, row.instance_id)).meta["user_tasks"].get(row.bpmn_id, {})
            if meta.get("due_in"):
                deadline = compute_deadline(meta["due_in"], row.created_at)
                uow.conn.execute(human_tasks.update().where(human_tasks.c.task_id == row.task_id)
                                 .values(due_at=deadline.due, due_provisional=deadline.provisional))
                changed += 1
        return changed

    @staticmethod
    def _definition_id(uow: UnitOfWork, instance_id: int) -> int:
        from engine.store.tables import instances
        return uow.conn.execute(sa.select(instances.c.definition_id).where(instances.c.id == instance_id)).scalar_one()
