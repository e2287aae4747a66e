"""Case money (执行款, 一案一账号): interface, sandbox and the ``ledger.*`` handlers."""
from handlers.ledger import handlers as _handlers  # noqa: F401  (registers ledger.*)
