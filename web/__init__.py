"""The Flask application: ``create_app(config=None)`` wires the engine in and registers the blueprints.

Views call the engine facade only (web → engine); they never touch SpiffWorkflow or the tables.
"""
from __future__ import annotations

import os
import secrets

from flask import Flask, render_template

from engine import Engine, ZhixingError


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("ZHIXING_SECRET_KEY") or secrets.token_hex(32),
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
    )
    app.config.update(config or {})
    engine = app.config.get("ENGINE") or Engine(app.config["DATABASE_URL"])
    app.extensions["zhixing"] = engine

    from engine.legal_time import COURT_TZ

    @app.template_filter("local")
    def local_time(moment, fmt="%Y-%m-%d %H:%M"):
        """Times are stored in UTC and shown in court time (Beijing)."""
        return moment.astimezone(COURT_TZ).strftime(fmt) if moment else ""

    from web import auth, tasks
    app.register_blueprint(auth.bp)
    app.register_blueprint(tasks.bp)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'")
        return response

    @app.errorhandler(ZhixingError)
    def engine_error(exc):
        return render_template("error.html", message=str(exc)), exc.status

    @app.errorhandler(404)
    def not_found(_exc):
        return render_template("error.html", message="页面不存在 (page not found)"), 404

    @app.errorhandler(500)
    def server_error(_exc):
        return render_template("error.html", message="服务器内部错误，已记录 (internal error, logged)"), 500

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
