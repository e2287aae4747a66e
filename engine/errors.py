"""The errors the engine raises to its callers.

Every error carries a message meant for a person (it names the case, task or file and says what to do next),
a stable machine ``code`` (``task.claimed_by_other``, ``sod.excluded``, ``form.invalid`` …) and the ``params``
a caller needs to say it in its own words. Callers (web, API, CLI) choose their message and status by class and
code, never by the text; they map the tree to HTTP statuses / exit codes, never to stack traces::

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
    code = "error"

    def __init__(self, message: str = "", *, code: str | None = None, **params):
        super().__init__(message)
        if code:
            self.code = code
        self.params = params


class NotFound(ZhixingError):
    status = 404
    code = "not_found"


class InvalidInput(ZhixingError):
    status = 422
    code = "input.invalid"

    def __init__(self, message: str, field_errors: dict[str, str] | None = None, *, code: str | None = None,
                 **params):
        super().__init__(message, code=code, **params)
        self.field_errors = field_errors or {}


class DefinitionInvalid(InvalidInput):
    """Raised by deploy when validation finds problems; ``problems`` holds the ``file:line: id: message`` lines."""

    code = "definition.invalid"

    def __init__(self, problems: list):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the diagrams:\n" + "\n".join(map(str, self.problems)))


class Forbidden(ZhixingError):
    status = 403
    code = "forbidden"


class ConcurrentModification(ZhixingError):
    status = 409
    code = "instance.conflict"


class StateError(ZhixingError):
    status = 409
    code = "state.conflict"


class TooManyLookups(ZhixingError):
    status = 429
    code = "public.too_many_lookups"
