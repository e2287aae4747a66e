"""Online search and control (网络执行查控): interface, sandbox and the ``asset.*`` handlers."""
from handlers.assets import handlers as _handlers  # noqa: F401  (registers asset.*)
