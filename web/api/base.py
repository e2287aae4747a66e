"""The API blueprint and what every resource shares: bearer-token authentication, role and court checks, JSON
errors, paging and plain JSON values.

A request is authenticated by its ``Authorization: Bearer …`` header only. The session cookie that
``web.auth`` reads for the pages is ignored: ``g.user`` is reset before anything else, so a browser that is
logged in cannot be made to call the API (no CSRF here). The token's grants (its user's roles, narrowed by the
token's scope) are put in ``g.roles``, where ``web.auth.courts_for`` and ``has_role`` find them, so the checks
read the same as in the pages.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import HTTPException

from engine.errors import InvalidInput, ZhixingError
from web.auth import courts_for, has_role
from web.extension import engine
from web.limits import check_text
from web.security import MAX_PAGE

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi"}
MAX_PER_PAGE = 200


class ApiError(Exception):
    """An answer other than 2xx: ``{"error": {"code", "message", "fields"?}}``."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None,
                 reason: str | None = None, params: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields
        self.reason, self.params = reason, params


def error_body(code: str, message: str, fields: dict | None = None, reason: str | None = None,
               params: dict | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if reason:
        body["reason"] = reason
    if params:
        body["params"] = {name: str(value) for name, value in params.items()}
    if fields:
        body["fields"] = {name: str(text) for name, text in fields.items()}
    return {"error": body}


# engine errors by class → the API's error category ``code`` (stable since v1); the engine's own machine code goes
# out as ``reason`` with its ``params`` (the HTTP status comes from the error itself)
ENGINE_CODES = {"NotFound": "not_found", "InvalidInput": "invalid", "DefinitionInvalid": "invalid_definition",
                "Forbidden": "forbidden", "ConcurrentModification": "conflict", "StateError": "conflict",
                "TooManyLookups": "rate_limited"}


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    response = current_app.json.response(error_body(exc.code, exc.message, exc.fields, exc.reason, exc.params))
    response.status_code = exc.status
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="zhixing"'
    return response


@bp.errorhandler(ZhixingError)
def engine_error(exc: ZhixingError):
    fields = exc.field_errors if isinstance(exc, InvalidInput) else None
    if getattr(exc, "problems", None):
        fields = {f"problem {n}": str(p) for n, p in enumerate(exc.problems, 1)}
    code = next((ENGINE_CODES[c.__name__] for c in type(exc).__mro__ if c.__name__ in ENGINE_CODES), "bad_request")
    return api_error(ApiError(exc.status, code, str(exc).splitlines()[0], fields, exc.code, exc.params))



@bp.before_request
def authenticate():
    g.user, g.roles, g.token_id = None, [], None        # never the session's user
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    identity = engine().tokens.authenticate(secret.strip()) if scheme.lower() == "bearer" and secret else None
    if identity is None:
        raise ApiError(401, "unauthorized", "send a valid API token: 'Authorization: Bearer <token>' "
                                            "(an administrator creates tokens)")
    g.user, g.roles, g.token_id = identity.username, list(identity.grants), identity.token_id
    check_text()


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# -- checks ---------------------------------------------------------------------------------------------------
def require(*roles: str) -> list[str]:
    """403 unless the token holds one of ``roles`` somewhere; returns the courts where it does."""
    if not has_role(*roles):
        raise ApiError(403, "forbidden", f"this needs one of the roles {', '.join(roles)}; the token has "
                                         f"{', '.join(sorted({r for _c, r in g.roles})) or 'none'}")
    return courts_for(*roles)


def require_in(court: str, *roles: str) -> None:
    """403 unless the token holds one of ``roles`` in ``court``."""
    if court not in require(*roles):
        raise ApiError(403, "forbidden", f"this needs one of the roles {', '.join(roles)} in court {court}")


def not_found(what: str):
    return ApiError(404, "not_found", f"{what} was not found in your courts")


# -- input ----------------------------------------------------------------------------------------------------
def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "send a JSON object (Content-Type: application/json)")
    return data


def paging() -> tuple[int, int]:
    """``page`` (from 1) and ``per_page`` (1–200, default 50) from the query string."""
    try:
        page, per_page = int(request.args.get("page", 1)), int(request.args.get("per_page", 50))
    except ValueError:
        raise ApiError(400, "bad_request", "page and per_page are whole numbers") from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(400, "bad_request", f"1 ≤ page ≤ {MAX_PAGE} and 1 ≤ per_page ≤ {MAX_PER_PAGE}")
    return page, per_page


def page_of(items: list, page: int, per_page: int, total: int | None = None, has_more: bool | None = None) -> dict:
    out = {"items": items, "page": page, "per_page": per_page}
    if total is not None:
        out["total"] = total
        has_more = page * per_page < total
    out["has_more"] = bool(has_more)
    return out


# -- output ---------------------------------------------------------------------------------------------------
def plain(value):
    """JSON values: dataclasses as objects, times as ISO 8601, money (Decimal) as text, tuples as arrays."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def pick(obj, *names: str) -> dict:
    """The named attributes of ``obj`` as plain JSON values (what the OpenAPI schema promises, no more)."""
    return {name: plain(getattr(obj, name)) for name in names}


# -- HTTP errors (also those raised before a view is found: unknown paths, wrong methods) ---------------------
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "invalid", 429: "rate_limited"}


def http_error(exc):
    """Any HTTP error under /api/ as JSON (``web.create_app`` sends /api/ errors here); 500 says nothing more."""
    status = getattr(exc, "code", None) or 500
    if status == 404:
        message = f"no such API resource: {request.method} {request.path} (see /api/v1/openapi.json)"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.path} (see /api/v1/openapi.json)"
    elif status == 413:
        message = "the request is too large"
    elif status < 500:
        message = getattr(exc, "description", None) or "bad request"
    else:
        status, message = 500, "internal error; it was logged"
    return api_error(ApiError(status, HTTP_CODES.get(status, "internal" if status >= 500 else "bad_request"),
                              message))


bp.register_error_handler(HTTPException, http_error)
