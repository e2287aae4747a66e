"""Request-level hardening shared by every view (docs/security.md): the one safe-redirect check, the proxy
settings that make ``request.is_secure`` and ``remote_addr`` true behind a reverse proxy, the ``Secure`` flag on
the session cookie for HTTPS requests, a bounded JSON body (nesting depth) and bounded page numbers."""
from __future__ import annotations

import os
from datetime import date
from urllib.parse import urlsplit

from flask import Flask, Request, abort, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

MAX_JSON_DEPTH = 64            # no form, draft or API body nests deeper; ~990 levels was a RecursionError (500)
MAX_PAGE = 1_000_000           # 50 a page: far past any list; larger offsets overflowed SQLite's INTEGER (500)
MAX_REDIRECT = 2048
# dates a query may ask about: 0001-01-01 or 9999-12-31 overflowed the period arithmetic (a 500)
FIRST_DAY, LAST_DAY = date(1990, 1, 1), date(2199, 12, 31)


def safe_target(target, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``: the only check for ``next=`` redirects.

    Browsers drop tabs and newlines from a URL and read ``\\`` as ``/``, so ``/\\t/evil.example/`` and
    ``/\\evil.example`` are ``//evil.example/`` to them: any control character or backslash is refused, as is
    anything with a scheme or a host."""
    if not isinstance(target, str) or not target.startswith("/") or len(target) > MAX_REDIRECT:
        return default
    if any(ch < " " or ch == "\x7f" or ch == "\\" for ch in target) or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def page_number(value, default: int = 1) -> int:
    """A page number from a query string, 1 ≤ n ≤ ``MAX_PAGE`` (garbage is ``default``)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(1, number), MAX_PAGE)


def too_deep(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if a parsed JSON value nests deeper than ``limit`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedRequest(Request):
    """JSON bodies nested deeper than ``MAX_JSON_DEPTH`` are a 400 (the parser's own limit was a RecursionError,
    and what reads the value after it recurses too)."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            value, deep = None, True
        else:
            deep = too_deep(value)
        if deep:
            if cache:
                self._cached_json = (None, None)
            if silent:
                return None
            abort(400, f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        return value


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over HTTPS (directly, or through a proxy trusted
    by ``ZHIXING_PROXY_HOPS``), so it is never sent back over plain HTTP; ``SESSION_COOKIE_SECURE`` forces it."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def proxy_hops() -> int:
    """``ZHIXING_PROXY_HOPS``: how many reverse proxies in front of gunicorn set ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` (0, the default, trusts no such header: a client could forge them)."""
    try:
        return max(0, int(os.environ.get("ZHIXING_PROXY_HOPS", "0")))
    except ValueError:
        return 0


def init_app(app: Flask) -> None:
    app.request_class = BoundedRequest
    app.session_interface = SessionInterface()
    hops = app.config.get("PROXY_HOPS", proxy_hops())
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def client_address() -> str:
    """The client's address as the rate limits and the lockout see it (after ``ProxyFix``)."""
    return (request.remote_addr or "-")[:64]
