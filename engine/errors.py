"""The errors the engine raises to its callers.

Every error carries a message meant for a person: it names the case, task or file and says what to do next.
Callers (web, CLI) map the tree to HTTP statuses / exit codes, never to stack traces::

    ZhixingError
     ├── NotFound                 unknown instance, task, definition, job  (404)
     ├── InvalidInput             bad form data, bad command arguments    (400/422)
     │    └── DefinitionInvalid   a diagram failed validation (carries .problems)
     ├── Forbidden                the user lacks the lane's role / is barred by separation of duties (403)
     ├── ConcurrentModification   optimistic version check lost: reload and retry (409)
     ├── StateError               the task/instance is not in a state that allows the action (409)
     └── TooManyLookups           too many public lookups from one address within a minute (429)
"""
from __future__ import annotations


class ZhixingError(Exception):
    """Base of every error the engine reports to a caller."""

    status = 400


class NotFound(ZhixingError):
    status = 404


class InvalidInput(ZhixingError):
    status = 422

    def __init__(self, message: str, field_errors: dict[str, str] | None = None):
        super().__init__(message)
        self.field_errors = field_errors or {}


class DefinitionInvalid(InvalidInput):
    """Raised by deploy when validation finds problems; ``problems`` holds the ``file:line: id: message`` lines."""

    def __init__(self, problems: list):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the diagrams:\n" + "\n".join(map(str, self.problems)))


class Forbidden(ZhixingError):
    status = 403


class ConcurrentModification(ZhixingError):
    status = 409


class StateError(ZhixingError):
    status = 409


class TooManyLookups(ZhixingError):
    status = 429
