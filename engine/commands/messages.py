"""Correlating a message: deliver it to the instances waiting for it, or start the procedures it starts, or keep it.

A message is addressed by its name and a correlation key (the case number unless the payload names another
``case_no``). An instance waits on ``(name, key)`` when it reaches a catch event or boundary event for the
message; a deployed process whose start event is that message starts a new instance for it. An unmatched message
is never dropped: it is kept in the inbox, listed by ``zhixing messages``, and delivered as soon as an instance
starts waiting for it. A message for a suspended case is held in the inbox and delivered when the case resumes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from engine.commands.instances import StartInstance, assert_running
from engine.errors import InvalidInput, StateError
from engine.kernel import runtime
from engine.kernel.unit_of_work import UnitOfWork
from engine.store.database import inserted_id
from engine.store.tables import definitions, messages, subscriptions
from engine.views import MessageResult


@dataclass(frozen=True)
class CorrelateMessage:
    name: str
    key: str
    actor: str
    payload: dict = field(default_factory=dict)
    court: str | None = None          # needed only when the message starts a new case
    inbox_id: int | None = None       # re-delivery of a kept message

    def execute(self, uow: UnitOfWork) -> MessageResult:
        if not self.name or not self.key:
            raise InvalidInput("a message needs a name and a correlation key (the case number)")
        waiting = uow.conn.execute(
            sa.select(subscriptions.c.instance_id, subscriptions.c.task_id)
            .where(subscriptions.c.message_name == self.name, subscriptions.c.correlation_key == str(self.key))
            .order_by(subscriptions.c.instance_id)).all()
        delivered, held = [], []
        for instance_id in dict.fromkeys(r.instance_id for r in waiting):
            handle = uow.load(instance_id)
            if handle.status == "suspended":      # kept for the case, delivered when it resumes
                held.append(instance_id)
                continue
            assert_running(handle)
            try:
                runtime.deliver_message(handle.workflow, self.name, self.payload)
                runtime.run_engine(handle.workflow)
            except Exception as exc:
                raise StateError(f"case {handle.case_no} could not take message '{self.name}': "
                                 f"{runtime.describe_error(exc)}") from exc
            uow.log(handle, self.actor, "message_received", data={"name": self.name, "payload": self.payload})
            uow.save(handle)
            delivered.append(instance_id)
        if delivered:
            return self._done(uow, MessageResult("delivered", tuple(delivered)))
        if held:
            return self._keep(uow, "held", held[0])

        started = []
        for process_id in self._starting_processes(uow):
            court = self.court or self.payload.get("court")
            if not court:
                raise InvalidInput(f"message '{self.name}' starts '{process_id}': say which court (field 'court')")
            own_number = uow.latest_definition(process_id).meta.get("case_type") is not None
            view = StartInstance(process_id, None if own_number else str(self.key), court, self.actor,
                                 data=dict(self.payload), message=(self.name, self.payload),
                                 related_case_no=str(self.key) if own_number else None).execute(uow)
            started.append(view.id)
        if started:
            return self._done(uow, MessageResult("started", tuple(started)))

        return self._keep(uow, "unmatched", None)

    def _keep(self, uow: UnitOfWork, status: str, instance_id: int | None) -> MessageResult:
        """Keep the message in the inbox: unmatched, or held for a suspended case until it resumes."""
        if self.inbox_id is not None:
            uow.conn.execute(messages.update().where(messages.c.id == self.inbox_id)
                             .values(status=status, delivered_to=instance_id))
            inbox_id = self.inbox_id
        else:
            inbox_id = inserted_id(uow.conn.execute(messages.insert().values(
                name=self.name, correlation_key=str(self.key), payload=self.payload, source=self.actor,
                status=status, delivered_to=instance_id, received_at=uow.now)))
        if instance_id is not None:
            uow.save_events(instance_id, self.actor, "message_held", data={"name": self.name, "inbox": inbox_id})
        return MessageResult(status, (instance_id,) if instance_id else (), inbox_id)

    def _starting_processes(self, uow: UnitOfWork) -> list[str]:
        """Processes whose newest version starts on this message."""
        newest = sa.select(definitions.c.process_id, sa.func.max(definitions.c.version).label("v")) \
            .group_by(definitions.c.process_id).subquery()
        rows = uow.conn.execute(sa.select(definitions.c.process_id, definitions.c.meta).join(
            newest, sa.and_(newest.c.process_id == definitions.c.process_id, newest.c.v == definitions.c.version))
        ).all()
        return sorted(r.process_id for r in rows if self.name in (r.meta or {}).get("message_starts", []))

    def _done(self, uow: UnitOfWork, result: MessageResult) -> MessageResult:
        if self.inbox_id is not None:
            uow.conn.execute(messages.update().where(messages.c.id == self.inbox_id)
                             .values(status="delivered", delivered_to=result.instance_ids[0]))
        return result
