"""Frozen results handed to callers (web, CLI, simulation): no SpiffWorkflow or SQLAlchemy objects leak out."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class DefinitionView:
    process_id: str
    version: int
    name: str
    content_hash: str
    created: bool           # False when an identical version already existed (re-deploy is a no-op)

    @property
    def label(self) -> str:
        return f"{self.process_id}@{self.version}"


@dataclass(frozen=True)
class InstanceView:
    id: int
    process_id: str
    version: int
    case_no: str
    court: str
    status: str
    open_tasks: tuple = ()


@dataclass(frozen=True)
class TaskView:
    task_id: str
    instance_id: int
    bpmn_id: str
    name: str
    role: str
    court: str
    case_no: str
    claimed_by: str | None
    due_at: datetime | None
    due_provisional: bool = False


@dataclass(frozen=True)
class JobView:
    id: int
    kind: str
    instance_id: int | None
    bpmn_id: str | None
    operator: str | None
    status: str
    due_at: datetime
    attempts: int
    max_attempts: int
    last_error: str | None
    error_details: dict | None = None


@dataclass(frozen=True)
class MessageResult:
    status: str                     # delivered | started | unmatched
    instance_ids: tuple = ()
    inbox_id: int | None = None


@dataclass(frozen=True)
class EventView:
    seq: int
    at: datetime
    actor: str
    action: str
    bpmn_id: str | None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of a counted list (tasks, instances)."""
    rows: tuple
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class OpenPage:
    """One page of a list not counted in full (users, case search): only whether another page follows."""
    rows: tuple
    page: int
    per_page: int
    has_more: bool
