"""Messages from outside the court's workflow (``Engine.correlate``): an objection filed, an asset clue, a
bankruptcy court's decision, an application to restore a case, a payment.

Only the names in ``EXTERNAL_MESSAGES`` may be sent (the app config ``API_MESSAGES`` replaces the list): the
messages diagrams throw to each other (a ruling, a stay) cannot be forged from outside.

The sender's court comes from the token's grants, never from the body: for an existing case it is the case's
court, which the sender must hold an officer's role in (otherwise 404, as if the case did not exist); for a case
that does not exist yet it is the sender's only officer court, or — for a sender of several courts — the one
``court`` names among them (403 ``message.court_not_granted`` for any other). The engine then keeps the court
boundary (``engine.court.boundaries``): a message keyed on another court's case number, or for waiting cases of
another court, is refused with 403 ``message.foreign_court``; a kept message is delivered later only to a case of
the sender's court.
"""
from __future__ import annotations

from flask import current_app, g

from web.api.base import ApiError, body, bp, engine, not_found, plain, require
from web.auth import OFFICER_ROLES

EXTERNAL_MESSAGES = {
    "objection_filed": "执行异议 (objection filed by a party or outsider)",
    "asset_clue": "财产线索 (asset clue from the applicant)",
    "restoration_applied": "恢复执行申请 (application to restore a 终本 case)",
    "bankruptcy_accepted": "破产申请受理 (bankruptcy court accepts the case)",
    "bankruptcy_rejected": "破产申请不予受理 (bankruptcy court refuses the case)",
    "bankruptcy_declared": "宣告破产 (bankruptcy declared)",
    "bankruptcy_decision": "受移送法院裁定 (receiving court's decision on a transfer)",
    "bankruptcy_declaration": "宣告破产 (declaration, transfer procedure)",
    "voluntary_payment": "自动履行 (the debtor paid)",
    "debt_performed": "履行完毕 (the debt was performed)",
    "blacklist_correction": "失信名单纠正申请 (application to correct a listing)",
    "blacklist_deletion": "失信名单删除申请 (application to delete a listing)",
}


def allowed() -> dict:
    return current_app.config.get("API_MESSAGES") or EXTERNAL_MESSAGES


@bp.post("/messages")
def send_message():
    data = body()
    fields = {}
    if not isinstance(data.get("name"), str) or data["name"] not in allowed():
        fields["name"] = f"one of {', '.join(sorted(allowed()))}"
    if not isinstance(data.get("case_no"), str) or not data["case_no"].strip():
        fields["case_no"] = "required: the case the message is about (its correlation key)"
    if not isinstance(data.get("payload", {}), dict):
        fields["payload"] = "an object"
    if data.get("court") is not None and not isinstance(data["court"], str):
        fields["court"] = "a court code"
    if fields:
        raise ApiError(422, "invalid", "the message was not sent", fields)
    case_no = data["case_no"].strip()
    mine = require(*OFFICER_ROLES)
    existing = {i.court for i in engine().instances_of_case(case_no)}
    if existing:
        held = sorted(existing & set(mine))
        if not held:
            raise not_found(f"case {case_no}")
        court = held[0]                       # the case's court, whatever the sender said
    elif data.get("court"):
        if data["court"] not in mine:
            raise ApiError(403, "forbidden", f"you hold no officer's role in court {data['court']}",
                           reason="message.court_not_granted", params={"court": data["court"]})
        court = data["court"]
    elif len(mine) == 1:
        court = mine[0]
    else:
        raise ApiError(422, "invalid", f"case {case_no} does not exist yet: say which of your courts "
                       f"({', '.join(mine)}) sends the message", {"court": "required"})
    result = engine().correlate(data["name"], case_no, data.get("payload") or {}, actor=g.user, court=court)
    return plain({"status": result.status, "instance_ids": result.instance_ids, "inbox_id": result.inbox_id})
