"""Procedure instances: the supervisors' list (filters, paging) and one instance with its tokens, timers and
waits."""
from __future__ import annotations

from flask import request

from engine import SupervisionFilters as Filters
from engine.errors import NotFound
from web.api.base import ApiError, bp, engine, not_found, page_of, paging, pick
from web.api.cases import READERS, scope
from web.api.incidents import JOB_FIELDS
from web.auth import courts_for

STATUSES = ("running", "suspended", "completed", "terminated")


@bp.get("/instances")
def list_instances():
    page, per_page = paging()
    status = request.args.get("status") or None
    if status and status not in STATUSES:
        raise ApiError(400, "bad_request", f"status is one of {', '.join(STATUSES)}")
    filters = Filters(courts=tuple(scope(request.args.get("court"))),
                      process_id=request.args.get("process_id") or None, status=status,
                      stage=request.args.get("stage") or None, case_no=request.args.get("case_no") or None,
                      overdue=request.args.get("overdue") in ("1", "true"))
    found = engine().supervision.instances(filters, page, per_page)
    items = [dict(pick(r, "id", "case_no", "process_id", "process_name", "version", "court", "status", "stage",
                       "owner", "started_at", "last_activity", "incidents", "overdue"),
                  open_tasks=[pick(t, "task_id", "bpmn_id", "name", "role", "claimed_by", "due_at", "overdue")
                              for t in r.open_tasks])
             for r in found.rows]
    return page_of(items, page, per_page, total=found.total)


@bp.get("/instances/<int:instance_id>")
def read_instance(instance_id: int):
    try:
        court = engine().supervision.instance_court(instance_id)
    except NotFound:
        court = None
    if court is None or court not in courts_for(*READERS):
        raise not_found(f"instance {instance_id}")
    detail = engine().supervision.instance(instance_id)
    out = pick(detail, "id", "case_no", "process_id", "process_name", "version", "court", "status", "stage",
               "parent_id", "related_case_no", "started_at", "updated_at", "ended_at", "fields", "active")
    out["open_tasks"] = [pick(t, "task_id", "bpmn_id", "name", "role", "claimed_by", "due_at", "overdue")
                         for t in detail.open_tasks]
    out["jobs"] = [pick(j, *JOB_FIELDS) for j in detail.jobs]
    out["waits"] = [{"message": name, "key": key} for name, key in detail.waits]
    return out
