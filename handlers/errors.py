"""Translate an external system's errors into the handler contract, at the adapter boundary.

The engine decides between "retry the job" and "open an incident" from the exception type alone::

    HandlerError                       (handlers.base)
     ├── Retryable                     transient: timeouts, connection errors, a locked sandbox file
     └── BusinessRejection             definitive: bad input, or the system said no (overdraft, unknown asset)
          └── AdapterNotConfigured     ZHIXING_ADAPTER_<SYSTEM> names no known adapter (handlers.config)

Adapters raise ``HandlerError`` subclasses themselves for answers they understand; ``map_errors`` catches the
rest of what a client library throws, so no foreign exception reaches the engine unexplained.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from handlers.base import HandlerError, Retryable

TRANSIENT: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError, sqlite3.OperationalError, OSError)


@contextmanager
def map_errors(system: str) -> Iterator[None]:
    """Re-raise transient foreign errors from ``system`` as ``Retryable`` (``from`` the original)."""
    try:
        yield
    except HandlerError:
        raise
    except TRANSIENT as exc:
        raise Retryable(f"{system}: {type(exc).__name__}: {exc}",
                        {"system": system, "type": type(exc).__name__}) from exc
