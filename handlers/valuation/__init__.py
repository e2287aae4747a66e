"""Reference price (财产处置参考价): interface, sandbox and the ``valuation.*`` handlers."""
from handlers.valuation import handlers as _handlers  # noqa: F401  (registers valuation.*)
