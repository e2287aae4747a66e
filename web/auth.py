"""Login with hashed passwords, sessions that expire, CSRF tokens on every form, and ``login_required``."""
from __future__ import annotations

import functools
import hmac
import secrets

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash

from engine.store.tables import users

bp = Blueprint("auth", __name__)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.before_app_request
def load_user_and_check_csrf():
    g.user = session.get("user")
    if request.method == "POST":
        sent, expected = request.form.get("csrf_token", ""), session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent, expected):
            abort(400, "CSRF token missing or wrong; reload the page")


@bp.app_context_processor
def template_helpers():
    return {"csrf_token": csrf_token, "user": g.get("user")}


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not g.get("user"):
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)
    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        engine = current_app.extensions["zhixing"]
        username = request.form.get("username", "").strip()
        row = engine.executor.read(lambda conn: conn.execute(
            sa.select(users.c.password_hash, users.c.display_name, users.c.active)
            .where(users.c.username == username)).first())
        if row and row.active and row.password_hash and check_password_hash(row.password_hash,
                                                                            request.form.get("password", "")):
            session.clear()
            session.permanent = True
            session["user"] = username
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("tasks.index"))
        error = "用户名或密码错误 (wrong user name or password)"
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
