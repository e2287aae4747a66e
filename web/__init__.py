"""The Flask application: ``create_app(config=None)`` wires the engine in and registers the blueprints.

Views call the engine facade only (web → engine); they never touch SpiffWorkflow or the tables.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import sqlalchemy.exc as sa_exc
from flask import Flask, g, render_template, request
from werkzeug.routing import IntegerConverter

from engine import COURT_TZ, ZhixingError


def _local_secret() -> str:
    """The session-signing key when ``ZHIXING_SECRET_KEY`` is not set: made once and kept in ``var/secret_key``,
    so every web process on this machine (gunicorn workers) and every restart accept the same sessions."""
    path = Path(os.environ.get("ZHIXING_VAR", "var")) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():                  # written whole, then linked: a process never reads half a key
        draft = path.with_name(f"secret_key.{os.getpid()}")
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)               # the first process to start wins; the others read its key
        except FileExistsError:
            pass
        draft.unlink()
    return path.read_text().strip()


class RowId(IntegerConverter):
    """``<int:…>`` in every route: at most what an id column holds (INTEGER, 32-bit on PostgreSQL); a larger
    number is a 404 rather than an out-of-range error from the database driver (a 500)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):  # noqa: A002
        super().__init__(url_map, fixed_digits, min, max, signed)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["int"] = RowId
    app.config.update(
        SECRET_KEY=os.environ.get("ZHIXING_SECRET_KEY") or _local_secret(),
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
    )
    app.config.update(config or {})
    from web import extension
    extension.init_app(app)

    @app.template_filter("local")
    def local_time(moment, fmt="%Y-%m-%d %H:%M"):
        """Times are stored in UTC and shown in court time (Beijing)."""
        return moment.astimezone(COURT_TZ).strftime(fmt) if moment else ""

    from web import assets, auth, directory, i18n, limits, nav, security, tasks
    security.init_app(app)                   # proxy headers, Secure cookie over HTTPS, JSON depth (web/security.py)
    directory.init_app(app)                  # directory login settings, checked at start (docs/deployment.md)
    limits.init_app(app)                     # body size, NUL characters: before the CSRF check reads the form
    auth.init_app(app)                       # the login throttle
    i18n.init_app(app)
    nav.init_app(app)
    app.register_blueprint(assets.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(tasks.bp)
    from web import cases
    app.register_blueprint(cases.bp)
    from web import supervise
    app.register_blueprint(supervise.bp)
    from web import design
    app.register_blueprint(design.bp)
    from web import admin, api, public  # REST API, public case progress (执行公开), accounts
    app.register_blueprint(api.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(admin.bp)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # scripts only from this server; bpmn-js and the properties panel set inline styles
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                    "img-src 'self' data:; font-src 'self' data:")
        return response

    @app.errorhandler(ZhixingError)
    def engine_error(exc):
        return render_template("error.html", message=str(exc)), exc.status

    messages = {400: "请求有误 (bad request)", 403: "无权访问 (you may not open this page)",
                404: "页面不存在 (page not found)", 405: "不支持的操作 (method not allowed)",
                413: "上传内容过大 (upload too large)",
                429: "尝试过于频繁，请稍后再试 (too many attempts, try again later)",
                500: "服务器内部错误，已记录 (internal error, logged)"}

    def http_error(exc):
        if request.path.startswith("/api/"):        # the API answers in JSON, never in HTML (web/api/base.py)
            from web.api.base import http_error as api_http_error
            return api_http_error(exc)
        code = getattr(exc, "code", 500) or 500
        detail = getattr(exc, "description", None) if code == 400 else None
        return render_template("error.html", message=detail or messages.get(code, messages[500])), code

    for code in messages:
        app.register_error_handler(code, http_error)

    @app.errorhandler(sa_exc.OperationalError)
    def database_unavailable(_exc):
        """The database went away (restart, failover): say so; the pool reconnects on the next request."""
        message = "数据库暂时不可用，请稍后重试 (database unavailable, try again shortly)"
        g.roles = []                       # render the page without asking the database for the menu
        if request.path.startswith("/api/"):
            return {"error": {"code": "unavailable", "message": message}}, 503
        return render_template("error.html", message=message), 503

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    icon = (Path(app.static_folder or "") / "favicon.svg").read_bytes()

    @app.get("/favicon.ico")
    def favicon():
        """Browsers ask for it on every page whatever the page links: the same icon, not a 404."""
        return icon, 200, {"Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"}

    return app
