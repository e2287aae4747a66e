"""Service on parties (送达): interface, sandbox and the ``party.notify`` handler."""
from handlers.delivery import handlers as _handlers  # noqa: F401  (registers party.notify)
