"""The REST API for integrations, under ``/api/v1``: bearer API tokens, JSON in and out, errors as
``{"error": {"code", "message", "fields"?}}``, described by the OpenAPI 3.1 document at ``/api/v1/openapi.json``
(``web/api/openapi.py``). One module per resource; ``base`` holds what they share."""
from __future__ import annotations

from web.api import cases, definitions, incidents, instances, me, messages, metrics, openapi, tasks  # noqa: F401
from web.api.base import bp

__all__ = ["bp"]
