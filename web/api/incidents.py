"""Incidents (failed jobs whose retries ran out) of the token's courts, and retrying one."""
from __future__ import annotations

from flask import g, request

from engine.errors import NotFound
from web.api.base import bp, engine, not_found, page_of, paging, pick, require

SUPERVISORS = ("supervisor", "command_centre")
JOB_FIELDS = ("id", "kind", "instance_id", "bpmn_id", "operator", "status", "due_at", "attempts", "max_attempts",
              "last_error")


@bp.get("/incidents")
def list_incidents():
    courts = require(*SUPERVISORS)
    page, per_page = paging()
    scope = engine().supervision.scope(courts, request.args.get("subordinates") in ("1", "true"))
    rows, total = engine().supervision.incidents(scope, page, per_page)
    items = [pick(r, *JOB_FIELDS, "case_no", "court", "process_id", "updated_at") for r in rows]
    return page_of(items, page, per_page, total=total)


@bp.post("/incidents/<int:job_id>/retry")
def retry_incident(job_id: int):
    courts = require(*SUPERVISORS)
    try:
        court = engine().supervision.job_court(job_id)
    except NotFound:
        court = None
    if court not in courts:
        raise not_found(f"incident {job_id}")
    return pick(engine().retry_incident(job_id, g.user), *JOB_FIELDS)
