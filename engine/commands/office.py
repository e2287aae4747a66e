"""Writes that are not steps of a case: accounts and roles, API tokens, designers' drafts, officers' form drafts,
public codes, courts and holiday years.

They run through the executor like every command (one transaction, the engine's clock); the ones a person did
are appended to the office log (``office_events``, hash-chained, checked by ``zhixing audit verify``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.kernel.audit import append_office_event
from engine.kernel.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class OfficeWrite:
    """``apply(conn, now)`` does the write; ``action`` (e.g. ``account.roles``) names it in the office log.

    Without an ``action`` (bookkeeping such as a token's last use or a public lookup count) nothing is logged.
    """

    apply: Callable[[Any, Any], Any]
    action: str | None = None
    actor: str = "system"
    subject: str = ""
    court: str | None = None
    data: dict = field(default_factory=dict)

    def execute(self, uow: UnitOfWork):
        result = self.apply(uow.conn, uow.now)
        if self.action:
            append_office_event(uow.conn, uow.now, self.actor, self.action, self.court, self.subject, self.data)
        return result
