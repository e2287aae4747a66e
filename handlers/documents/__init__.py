"""Court documents (法律文书) from .docx templates: the ``document.generate`` handler."""
from handlers.documents import handlers as _handlers  # noqa: F401  (registers document.generate)
