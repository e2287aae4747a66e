"""Tasks: the open tasks of the token's roles in its courts; read one with its form; claim, unclaim, complete.

A task outside the token's grants does not exist for it (404), even when the token's user could work on it
through a role the token was not given. Completing is then the engine's to allow (role, claim, separation of
duties 审执分离, the form); a form error is 422 with one message per field.
"""
from __future__ import annotations

from flask import g, request

from engine.errors import NotFound
from web.api.base import ApiError, body, bp, engine, not_found, page_of, paging, require
from web.api.cases import instance_json, task_json
from web.auth import OFFICER_ROLES


def _visible(task_id: str):
    """The task's detail, if the token may see it (403 for a token without officer roles)."""
    require(*OFFICER_ROLES)
    try:
        detail = engine().casework.task(task_id)
    except NotFound:
        detail = None
    if detail is None or (detail.task.court, detail.task.role) not in set(g.roles):
        raise not_found(f"open task {task_id}")
    return detail


@bp.get("/tasks")
def list_tasks():
    require(*OFFICER_ROLES)
    page, per_page = paging()
    claim = request.args.get("claim") or None
    if claim not in (None, "mine", "unclaimed"):
        raise ApiError(400, "bad_request", "claim is 'mine' or 'unclaimed'")
    found = engine().integration.tasks(g.roles, username=g.user, court=request.args.get("court") or None,
                                       role=request.args.get("role") or None,
                                       case_no=request.args.get("case_no") or None, claim=claim, page=page,
                                       per_page=per_page)
    return page_of([task_json(t) for t in found.rows], page, per_page, total=found.total)


@bp.get("/tasks/<task_id>")
def read_task(task_id: str):
    detail = _visible(task_id)
    return dict(task_json(detail.task), instance_status=detail.instance_status, form=detail.form, ui=detail.ui,
                instructions=detail.instructions, documentation=detail.documentation)


@bp.post("/tasks/<task_id>/claim")
def claim_task(task_id: str):
    _visible(task_id)
    engine().claim_task(task_id, g.user)
    return task_json(_visible(task_id).task)


@bp.post("/tasks/<task_id>/unclaim")
def unclaim_task(task_id: str):
    _visible(task_id)
    engine().unclaim_task(task_id, g.user)
    return task_json(_visible(task_id).task)


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id: str):
    data = body().get("data", {})
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "the task was not completed", {"data": "an object with the form's fields"})
    _visible(task_id)
    return instance_json(engine().complete_task(task_id, g.user, data))
