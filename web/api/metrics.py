"""执行质效指标: a court's enforcement metrics for a period (``Engine.metrics``, docs/metrics.md)."""
from __future__ import annotations

from datetime import date

from flask import request

from engine import COURT_TZ
from web.api.base import ApiError, bp, engine, require_in
from web.api.incidents import SUPERVISORS
from web.security import FIRST_DAY, LAST_DAY


def _day(name: str, default: date | None, fields: dict) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        day = date.fromisoformat(text)
    except ValueError:
        fields[name] = "a date YYYY-MM-DD"
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        fields[name] = f"a date from {FIRST_DAY} to {LAST_DAY}"
        return None
    return day


@bp.get("/metrics")
def read_metrics():
    fields: dict = {}
    court = request.args.get("court", "").strip()
    if not court:
        fields["court"] = "required"
    today = engine().clock.now().astimezone(COURT_TZ).date()
    start, end = _day("from", date(today.year, 1, 1), fields), _day("to", today, fields)
    if start and end and start > end:
        fields["to"] = "on or after 'from'"
    if fields:
        raise ApiError(400, "bad_request", "the metrics need a court and a period", fields)
    require_in(court, *SUPERVISORS)
    metrics = engine().metrics(court, start, end,
                               include_subordinates=request.args.get("subordinates") in ("1", "true"),
                               **({"process_id": request.args["process_id"]} if request.args.get("process_id")
                                  else {}))
    return metrics.to_dict()
