"""The handler contract.

A handler is a plain function ``fn(ctx: HandlerContext, **params) -> dict``. It must be idempotent for a given
``ctx.idempotency_key`` (the engine may call it again after a crash), must not touch the engine's database, and
reports failure by raising::

    HandlerError
     ├── Retryable          transient (timeout, system down): the engine retries with back-off, then opens an incident
     └── BusinessRejection  the input or the external system said no: an incident at once, with ``details``

Any other exception is treated as ``Retryable``: a bug in a handler never crashes the engine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class HandlerContext:
    idempotency_key: str
    instance_id: int
    case_no: str | None
    court: str | None
    now: datetime
    attempt: int = 1
    # the identity of the engine database the call serves (opaque): outside state a sandbox keeps, it keeps per
    # database, so a fresh database meets a fresh world (``handlers.sandbox_store``)
    database_id: str | None = None


class HandlerError(Exception):
    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.details = details or {}


class Retryable(HandlerError):
    """A transient failure: try again later."""


class BusinessRejection(HandlerError):
    """A definitive refusal: retrying the same input will not help."""


@dataclass(frozen=True)
class ParamError:
    field: str
    message: str


@dataclass(frozen=True)
class HandlerResult:
    """What the engine records for a handler call (kept small: it lands in the instance's data)."""

    data: dict = field(default_factory=dict)
