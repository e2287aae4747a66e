"""Deterministic credit-sanction system: orders and listings live in the sandbox store. It refuses a second
order or listing in force for the same debtor in the same case, acting on an unknown or already ended one, and
deleting a listing as 'expired' before its last day has passed."""
from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from handlers.base import HandlerContext
from handlers.party_id import PartyId
from handlers.sandbox_store import Records, SandboxStore
from handlers.timeutil import today
from handlers.validate import case_ref, reject


def _id(prefix: str, ctx: HandlerContext) -> str:
    return prefix + hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:12].upper()


class SandboxCredit:
    local = True      # in-process: safe to call inside the engine's transaction

    def __init__(self) -> None:
        self.store = SandboxStore("credit")

    def restrict(self, ctx, party: PartyId, name: str, legal_representative: str | None) -> dict:
        def act(rec: Records) -> dict:
            self._no_duplicate(rec, "restriction", party.value, case_ref(ctx))
            order: dict[str, Any] = {
                "order_id": _id("XF", ctx), "debtor_id": party.value, "name": name, "case": case_ref(ctx),
                "legal_representative": legal_representative, "status": "in_force",
                "issued_on": today(ctx.now).isoformat()}
            return rec.put("restriction", order["order_id"], order)
        return self.store.once(ctx, "restrict", {"party": party.value, "name": name, "rep": legal_representative}, act)

    def lift(self, ctx: HandlerContext, order_id: str, reason: str) -> dict:
        def act(rec: Records) -> dict:
            order = self._in_force(rec, "restriction", order_id, "order_id")
            order.update(status="lifted", lifted_on=today(ctx.now).isoformat(), reason=reason)
            return rec.put("restriction", order_id, order)
        return self.store.once(ctx, "lift", {"order": order_id, "reason": reason}, act)

    def blacklist(self, ctx, party: PartyId, name: str, ground: int, expires_on: date | None) -> dict:
        def act(rec: Records) -> dict:
            self._no_duplicate(rec, "listing", party.value, case_ref(ctx))
            listing: dict[str, Any] = {
                "listing_id": _id("SX", ctx), "debtor_id": party.value, "name": name, "case": case_ref(ctx),
                "ground": ground, "status": "listed", "listed_on": today(ctx.now).isoformat(),
                "expires_on": expires_on.isoformat() if expires_on else None}
            return rec.put("listing", listing["listing_id"], listing)
        params = {"party": party.value, "name": name, "ground": ground, "expires": expires_on}
        return self.store.once(ctx, "blacklist", params, act)

    def delist(self, ctx: HandlerContext, listing_id: str, reason: str) -> dict:
        def act(rec: Records) -> dict:
            listing = self._in_force(rec, "listing", listing_id, "listing_id")
            day = today(ctx.now)
            if reason == "expired" and (listing["expires_on"] is None or day.isoformat() <= listing["expires_on"]):
                reject("reason", f"listing {listing_id} has not expired (term ends "
                       f"{listing['expires_on'] or 'never: ground 1 has no fixed term'})",
                       expires_on=listing["expires_on"])
            listing.update(status="deleted", deleted_on=day.isoformat(), reason=reason)
            return rec.put("listing", listing_id, listing)
        return self.store.once(ctx, "delist", {"listing": listing_id, "reason": reason}, act)

    @staticmethod
    def _no_duplicate(rec: Records, kind: str, debtor_id: str, case: str) -> None:
        ended = ("lifted", "deleted")
        same = [r for r in rec.find(kind, debtor_id=debtor_id, case=case) if r["status"] not in ended]
        if same:
            rid = same[0].get("order_id") or same[0].get("listing_id")
            reject("debtor_id", f"{debtor_id} already has {kind} {rid} in force in this case", existing=rid)

    @staticmethod
    def _in_force(rec: Records, kind: str, rid: str, field: str) -> dict:
        record = rec.get(kind, rid)
        if record is None:
            reject(field, f"no {kind} {rid}", value=rid)
        if record["status"] in ("lifted", "deleted"):
            reject(field, f"{kind} {rid} is already {record['status']}", status=record["status"])
        return record
