"""Cases: file one (start a procedure), list them, read one with everything the officers' case page shows."""
from __future__ import annotations

from flask import g, request

from web.api.base import ApiError, body, bp, engine, page_of, paging, pick, plain, require, require_in
from web.auth import OFFICER_ROLES

READERS = OFFICER_ROLES + ("supervisor",)       # who may read the cases of their courts
FILERS = ("filing_clerk",)                      # who may file a case (立案)


def instance_json(view) -> dict:
    """A procedure instance as a command returns it (``engine.views.InstanceView``)."""
    return dict(pick(view, "id", "process_id", "version", "case_no", "court", "status"),
                open_tasks=list(view.open_tasks))


def scope(court: str | None = None) -> list[str]:
    """The courts whose cases the token may read, or just ``court`` if it is one of them."""
    courts = require(*READERS)
    if court:
        courts = [c for c in courts if c == court]
    return courts


@bp.post("/cases")
def file_case():
    """File a case in a court the token may file in. The engine numbers it; a supplied ``case_no`` (the import of
    an existing case) must be official, carry the court's own code and be unused (422 ``case_no.format``,
    ``case_no.foreign_court``, ``case_no.taken``). ``related_case_no`` links it to an existing case of the same
    court, or for a 执复/执监/执协 case of a court below (422 ``relation.unknown_case``, 403
    ``relation.foreign_court``); the engine records the relation, and separation of duties reads only recorded
    relations."""
    data = body()
    fields = {name: "required" for name in ("process_id", "court") if not isinstance(data.get(name), str)
              or not data[name].strip()}
    if not isinstance(data.get("data", {}), dict):
        fields["data"] = "an object"
    if data.get("case_no") is not None and not isinstance(data["case_no"], str):
        fields["case_no"] = "text, or leave it out to number the case automatically"
    if data.get("related_case_no") is not None and (not isinstance(data["related_case_no"], str)
                                                    or not data["related_case_no"].strip()):
        fields["related_case_no"] = "the number of the case this one is related to (checked and recorded)"
    if isinstance(data.get("data"), dict) and "related_case_no" in data["data"]:
        fields["data.related_case_no"] = "not read from case data: give the related case as related_case_no"
    if data.get("version") is not None and not isinstance(data["version"], int):
        fields["version"] = "a whole number"
    if fields:
        raise ApiError(422, "invalid", "the case was not filed", fields)
    require_in(data["court"], *FILERS)
    related = data["related_case_no"].strip() if data.get("related_case_no") else None
    view = engine().start(data["process_id"], data.get("case_no") or None, data["court"], data.get("data") or {},
                          actor=g.user, version=data.get("version"), related_case_no=related)
    return instance_json(view), 201


@bp.get("/cases")
def list_cases():
    page, per_page = paging()
    found = engine().casework.find_cases(scope(request.args.get("court")), request.args.get("q"),
                                         status=request.args.get("status") or None, page=page, per_page=per_page)
    items = [pick(r, "instance_id", "case_no", "court", "process_id", "process_name", "status", "stage", "fields",
                  "started_at", "updated_at") for r in found.rows]
    return page_of(items, page, per_page, has_more=found.has_more)


@bp.get("/cases/<case_no>")
def read_case(case_no: str):
    case = engine().casework.case(case_no, scope())
    out = pick(case, "case_no", "court", "facts", "assets", "receipts", "payouts", "money", "documents", "related")
    out["instances"] = [pick(i, "id", "process_id", "process_name", "version", "status", "stage", "court",
                             "related_case_no", "parent_id", "started_at", "ended_at", "fields")
                        for i in case.instances]
    out["open_tasks"] = [task_json(t) for t in case.open_tasks]
    out["timeline"] = [pick(e, "at", "actor", "actor_name", "action", "bpmn_id", "node_name", "instance_id", "data")
                       for e in case.timeline]
    return plain(out)


def task_json(row) -> dict:
    """An open task as the officers' lists show it (``engine.workspaces.casework.TaskRow``)."""
    return pick(row, "task_id", "instance_id", "bpmn_id", "name", "role", "court", "case_no", "claimed_by",
                "due_at", "due_provisional", "created_at", "overdue", "process_id", "process_name", "stage")
