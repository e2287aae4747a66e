"""What every request may carry, checked before any view: a body of at most ``MAX_CONTENT_LENGTH`` (413), a query
string in UTF-8, and no NUL character (``\\0``) in the path, the query, a form field or a JSON body (400 naming
where). PostgreSQL cannot store a NUL in text or jsonb: one that got through was a 500 there, and stored on SQLite."""
from __future__ import annotations

from flask import Flask, abort, request

MAX_BODY = 10 * 1024 * 1024       # bytes: far above the largest diagram set; the API deploy has its own limit


def _nul_in(value, path: str) -> str | None:
    """Where in a JSON value a NUL is (``a.b.0``), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if "\x00" in where:
            return where
        found = _nul_in(item, where)
        if found:
            return found
    return None


def nul_field() -> str | None:
    """The first place of the request holding a NUL character, or None (400 at once for a non-UTF-8 query)."""
    if "\x00" in request.path:
        return "path"
    try:
        request.args  # noqa: B018  (reading it is the check)
    except UnicodeDecodeError:                 # raw bytes a browser would have percent-encoded: Werkzeug fails
        request.query_string = b""             # also when the error page reads it
        abort(400, "the query string is not UTF-8 text")
    # the API takes JSON, and multipart files only where a view first sets its own size limit: not parsed here
    sources = (request.args,) if request.path.startswith("/api/") else (request.args, request.form)
    for source in sources:
        for name, value in source.items(multi=True):
            if "\x00" in name or "\x00" in value:
                return name
    if request.is_json:
        return _nul_in(request.get_json(silent=True), "")
    return None


def check_text() -> None:
    """400 for a query string that is not UTF-8, or naming the first field with a NUL; the API calls it once the
    token is checked (a request without one is a 401 first)."""
    field = nul_field()
    if field is not None:
        abort(400, f"'{field.replace(chr(0), '␀')}' contains a NUL character (\\0), which no field may hold")


def init_app(app: Flask) -> None:
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    @app.before_request
    def check_page_request():
        if not request.path.startswith("/api/"):
            check_text()
