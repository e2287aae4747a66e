"""Login with hashed passwords, sessions that expire, CSRF tokens on every form, and the checks every view
declares: ``login_required``, or ``requires(*roles)`` (the user holds one of the roles in some court; the view
then limits what it shows to ``courts_for(...)``, the courts where the user holds them)."""
from __future__ import annotations

import functools
import hmac
import secrets

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from web import directory
from web.extension import engine

bp = Blueprint("auth", __name__)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.before_app_request
def load_user_and_check_csrf():
    g.user = session.get("user")
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
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        username, error = directory.sign_in(username, request.form.get("password", ""))   # local or directory
        if username:
            session.clear()
            session.permanent = True
            session["user"] = username
            target = request.args.get("next", "")
            safe = target.startswith("/") and not target.startswith("//")
            return redirect(target if safe else url_for("tasks.index"))
        error = error or _("用户名或密码错误")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
