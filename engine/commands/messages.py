"""Correlating a message: deliver it to the instances waiting for it, or start the procedures it starts, or keep it.

A message is addressed by its name and a correlation key (the case number unless the payload names another
``case_no``). An instance waits on ``(name, key)`` when it reaches a catch event or boundary event for the
message; a deployed process whose start event is that message starts a new instance for it. An unmatched message
is never dropped: it is kept in the inbox, listed by ``zhixing messages``, and delivered as soon as an instance
starts waiting for it. A message for a suspended case is held in the inbox and delivered when the case resumes.

Court boundaries (``engine.court.boundaries``): every message has a sender's court (``court``: the court of the
user who sent it, taken by the web and the API from the user's grants, or the court of the case that threw it)
and, when a diagram threw it, the sender's case. It reaches only cases of that court, or cases linked to the
sender's case by a recorded relation; one exception is kept narrow: a message a procedure threw (never one sent
from outside) that a case waits for on a party key its diagram declares (``correlationKey`` ``debtor_id``: the
执转破 suspension and declaration that end every enforcement against the debtor, 企业破产法 第19条) reaches
every court. A message from outside keyed on another court's case number, or for waiting cases all outside the
boundary, is refused (``message.foreign_court``); a thrown one is kept in the inbox for its own court. The inbox
records the court: a kept message is delivered later only inside the same boundary, and a case it starts
belongs to the sender's court.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from engine.commands.instances import StartInstance, assert_running
from engine.court import boundaries
from engine.errors import Forbidden, InvalidInput, StateError
from engine.kernel import runtime
from engine.kernel.unit_of_work import UnitOfWork
from engine.store.database import inserted_id
from engine.store.tables import definitions, instances, messages, subscriptions
from engine.views import MessageResult


@dataclass(frozen=True)
class CorrelateMessage:
    name: str
    key: str
    actor: str
    payload: dict = field(default_factory=dict)
    court: str | None = None          # the sender's court (the user's, or the throwing case's)
    inbox_id: int | None = None       # re-delivery of a kept message
    sender_case: str | None = None    # the case whose diagram threw the message

    def execute(self, uow: UnitOfWork) -> MessageResult:
        if not self.name or not self.key:
            raise InvalidInput("a message needs a name and a correlation key (the case number)")
        if not self.court:
            raise InvalidInput(f"message '{self.name}': say which court sends it", {"court": "required"},
                               code="message.court_required")
        thrown = self.sender_case is not None
        waiting = uow.conn.execute(
            sa.select(subscriptions.c.instance_id, instances.c.court, instances.c.case_no)
            .join(instances, instances.c.id == subscriptions.c.instance_id)
            .where(subscriptions.c.message_name == self.name, subscriptions.c.correlation_key == str(self.key))
            .order_by(subscriptions.c.instance_id)).all()
        allowed = [r.instance_id for r in waiting if self._may_reach(uow, r.court, r.case_no)]
        if waiting and not allowed:
            if not thrown and self.inbox_id is None:
                courts = sorted({r.court for r in waiting})
                raise Forbidden(f"message '{self.name}' for {self.key}: the waiting case belongs to court "
                                f"{', '.join(courts)}; court {self.court} may send only to its own cases",
                                code="message.foreign_court", case_no=str(self.key), court=self.court)
            return self._keep(uow, "unmatched", None)
        delivered, held = [], []
        for instance_id in dict.fromkeys(allowed):
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
            # the new case belongs to the sender's court, whatever the payload says
            own_number = uow.latest_definition(process_id).meta.get("case_type") is not None
            view = StartInstance(process_id, None if own_number else str(self.key), self.court, self.actor,
                                 data=dict(self.payload), message=(self.name, self.payload),
                                 related_case_no=str(self.key) if own_number else None,
                                 of_case=not own_number).execute(uow)
            started.append(view.id)
        if started:
            return self._done(uow, MessageResult("started", tuple(started)))

        if not thrown and self.inbox_id is None:    # not kept for a number of another court: refused now
            boundaries.check_key_court(uow.conn, self.court, str(self.key), None)
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
                status=status, delivered_to=instance_id, received_at=uow.now, court=self.court,
                sender_case=self.sender_case)))
        if instance_id is not None:
            uow.save_events(instance_id, self.actor, "message_held", data={"name": self.name, "inbox": inbox_id})
        return MessageResult(status, (instance_id,) if instance_id else (), inbox_id)

    def _may_reach(self, uow: UnitOfWork, court: str, case_no: str) -> bool:
        return boundaries.may_deliver(uow.conn, self.court, self.sender_case, str(self.key), court, case_no)

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
