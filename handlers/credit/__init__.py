"""Credit sanctions (信用惩戒: 限制消费, 失信名单): interface, sandbox and the ``credit.*`` handlers."""
from handlers.credit import handlers as _handlers  # noqa: F401  (registers credit.*)
