"""Login with hashed passwords (throttled, locked out after repeated failures, logged), sessions that expire and
can be ended (the session epoch, engine/workspaces/lockout.py), CSRF tokens on every form, and the checks every view
declares: ``login_required``, or ``requires(*roles)`` (the user holds one of the roles in some court; the view
then limits what it shows to ``courts_for(...)``, the courts where the user holds them)."""
from __future__ import annotations

import functools
import hmac
import os
import secrets

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter import Limiter

from web import directory
from web.extension import engine
from web.security import client_address, safe_target

bp = Blueprint("auth", __name__)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.before_app_request
def load_user_and_check_csrf():
    g.user = session.get("user")
    if g.user and not request.path.startswith("/api/"):
        # a session from before a logout, a password reset or a deactivation holds an old epoch: it is over
        if engine().signin.epoch(g.user) != session.get("epoch"):
            session.clear()
            g.user = None
    # the API (/api/) authenticates by bearer token only, never by this session cookie, so it needs no CSRF token
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.path.startswith("/api/"):
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent, expected):
            abort(400, "CSRF token missing or wrong; reload the page")


@bp.app_context_processor
def template_helpers():
    return {"csrf_token": csrf_token, "user": g.get("user"), "has_role": has_role, "OFFICER_ROLES": OFFICER_ROLES}


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not g.get("user"):
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)
    return wrapped


# who works on tasks (the officers' pages), as opposed to supervisors, designers and admins
OFFICER_ROLES = ("filing_clerk", "command_centre", "implementation_officer", "judge_assistant", "clerk",
                 "panel_member", "president", "review_judge")


def user_roles() -> list[tuple[str, str]]:
    """``(court, role)`` pairs of the logged-in user, read once per request."""
    if "roles" not in g:
        g.roles = engine().roles_of(g.user) if g.get("user") else []
    return g.roles


def courts_for(*roles: str) -> list[str]:
    """The courts in which the user holds one of ``roles``."""
    return sorted({court for court, role in user_roles() if role in roles})


def has_role(*roles: str) -> bool:
    return any(role in roles for _court, role in user_roles())


def requires(*roles: str):
    """Login, then 403 unless the user holds one of ``roles`` in some court."""
    def decorate(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in. Every failure is logged (``auth_events``); a locked account name or address is refused before its
    password is looked at, with the same answer whether the account exists or not."""
    error, status = None, 200
    if request.method == "POST":
        signin = engine().signin
        username, client = request.form.get("username", "").strip(), client_address()
        if signin.locks_on(username, client):
            signin.refused(username, client)
            error, status = _("登录失败次数过多，已暂时锁定：请 15 分钟后再试，或请系统管理员解除锁定"), 429
        else:
            found, error = directory.sign_in(username, request.form.get("password", ""))   # local or directory
            if found is not None:
                name, epoch = found
                signin.succeeded(name, client)
                session.clear()
                session.permanent = True
                session["user"], session["epoch"] = name, epoch
                return redirect(safe_target(request.args.get("next", ""), url_for("tasks.index")))
            signin.failed(username, client)
            error, status = error or _("用户名或密码错误"), 401
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout():
    """Log out: the session epoch is raised, so a copy of this session cookie stops working too."""
    if g.get("user"):
        engine().signin.logout(g.user, client_address())
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app) -> None:
    """The login throttle per address (Flask-Limiter): ``LOGIN_RATE_LIMIT`` failed logins (``10 per minute``), kept
    in ``RATELIMIT_STORAGE_URI`` (``ZHIXING_RATELIMIT_STORAGE``; memory of each process unless set to a shared
    store such as ``redis://``). The lockout in the store (engine/workspaces/lockout.py) is the limit shared by all
    processes; this one stops bursts before they reach the database."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", os.environ.get("ZHIXING_RATELIMIT_STORAGE", "memory://"))
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limit = app.config.get("LOGIN_RATE_LIMIT", "10 per minute")
    app.extensions["login_limiter"] = Limiter(
        client_address, app=app, default_limits=[limit],
        default_limits_exempt_when=lambda: request.endpoint != "auth.login" or request.method != "POST",
        default_limits_deduct_when=lambda response: response.status_code != 302)
