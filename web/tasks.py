"""Officers' task list (我的待办). The full UI (forms, claims, cases, supervision) builds on this page."""
from __future__ import annotations

from flask import Blueprint, current_app, g, render_template

from engine.roles import ROLES
from web.auth import login_required

bp = Blueprint("tasks", __name__)


@bp.get("/")
@login_required
def index():
    engine = current_app.extensions["zhixing"]
    tasks = engine.tasks(username=g.user)
    roles = [(court, ROLES.get(role, (role,))[0]) for court, role in engine.roles_of(g.user)]
    return render_template("tasks.html", tasks=tasks, roles=roles, role_labels=ROLES)
