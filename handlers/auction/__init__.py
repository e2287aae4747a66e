"""Online judicial auction (网络司法拍卖): interface, sandbox and the ``auction.*`` handlers."""
from handlers.auction import handlers as _handlers  # noqa: F401  (registers auction.*)
