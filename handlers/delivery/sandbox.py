"""Deterministic service platform: everyone is reached, except a debtor marked ``reachable: False`` in
``handlers.sandbox_data`` (陈大明), who is reached only by publication (公告送达), which always succeeds."""
from __future__ import annotations

import hashlib

from handlers import sandbox_data
from handlers.base import HandlerContext
from handlers.sandbox_store import SandboxStore

FAILURES = {"electronic": "电子送达地址无效", "sms": "号码停机", "post": "查无此人，邮件退回",
            "in_person": "下落不明，无法直接送达"}


class SandboxDelivery:
    local = True      # in-process: safe to call inside the engine's transaction

    def __init__(self) -> None:
        self.store = SandboxStore("delivery")

    def deliver(self, ctx: HandlerContext, party_id, name, role, channel, message, document) -> dict:
        def act(rec) -> dict:
            known = sandbox_data.debtor(party_id) if party_id else None
            reached = channel == "publication" or known is None or known["reachable"]
            delivery = {"delivery_id": "SD" + hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:12].upper(),
                        "party_id": party_id, "name": name, "role": role, "channel": channel,
                        "document": document, "delivered": reached,
                        "failure": None if reached else FAILURES[channel]}
            rec.put("delivery", delivery["delivery_id"], delivery)
            return delivery
        params = {"party": party_id, "name": name, "role": role, "channel": channel, "message": message,
                  "document": document}
        return self.store.once(ctx, "deliver", params, act)
