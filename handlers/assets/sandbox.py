"""Deterministic 查控 system: answers from ``handlers.sandbox_data`` and keeps measures in the sandbox store.

Rules it plays by (what a real system would refuse, it refuses with ``BusinessRejection``):

* a search returns the debtor's assets visible to the channel in the categories asked, with their current
  encumbrances (a prior seizure by another court, and the sandbox's own measures);
* a measure on an asset already held by another case, or by the other court in the demo data, is queued
  (轮候, J7 Art 26) and takes effect when the measure ahead of it is released;
* a measure past its last day without renewal has lapsed (J7 Art 27) and cannot be renewed.
"""
from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal

from handlers import sandbox_data
from handlers.assets.adapter import CATEGORIES, FUNDS, MAX_MONTHS, MEASURES
from handlers.base import HandlerContext
from handlers.money import fmt
from handlers.party_id import PartyId
from handlers.sandbox_store import Records, SandboxStore
from handlers.timeutil import term_end, today
from handlers.validate import case_ref, reject

ACTIVE = ("in_force", "queued")


def _id(prefix: str, ctx: HandlerContext) -> str:
    return prefix + hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:12].upper()


def _status(m: dict, day: date) -> str:
    if m["status"] == "in_force" and m["expires_on"] and day.isoformat() > m["expires_on"]:
        return "lapsed"
    return m["status"]


class SandboxAssets:
    local = True      # in-process: safe to call inside the engine's transaction

    def __init__(self) -> None:
        self.store = SandboxStore("assets")

    def search(self, ctx: HandlerContext, party: PartyId, name: str, channel: str,
               categories: tuple[str, ...]) -> dict:
        def act(rec: Records) -> dict:
            data = sandbox_data.debtor(party.value) or {"name": name, "assets": []}
            if data["name"] != name:
                reject("debtor_name", f"{party.value} is registered as {data['name']}, not {name}", value=name)
            found = [self._public(rec, a, today(ctx.now)) for a in data["assets"]
                     if channel in a["channels"] and a["category"] in categories]
            return {"query_id": _id("Q", ctx), "assets": found}
        return self.store.once(ctx, "search", {"party": party.value, "name": name, "channel": channel,
                                               "categories": categories}, act)

    def control(self, ctx, asset_id, debtor_id, category, measure, months, amount) -> dict:
        def act(rec: Records) -> dict:
            owner, item = self._asset(asset_id)
            if owner != debtor_id:
                reject("debtor_id", f"asset {asset_id} is not registered to {debtor_id}", asset_id=asset_id)
            if item["category"] != category:
                reject("category", f"asset {asset_id} is {item['category']}, not {category}", actual=item["category"])
            day, case = today(ctx.now), case_ref(ctx)
            held = [m for m in rec.find("measure", asset_id=asset_id) if _status(m, day) in ACTIVE]
            mine = [m["measure_id"] for m in held if m["case"] == case]
            if mine:
                reject("asset_id", f"asset {asset_id} is already controlled in this case by {mine[0]}",
                       measure_id=mine[0])
            ahead = len(held) + (1 if item.get("prior_seizure") else 0)
            value = Decimal(item["value"])
            m = {"measure_id": _id("M", ctx), "asset_id": asset_id, "debtor_id": debtor_id, "case": case,
                 "category": category, "holder": item["holder"], "measure": measure, "months": months,
                 "amount": fmt(min(amount or value, value)) if category in FUNDS else None,
                 "status": "queued" if ahead else "in_force", "rank": ahead + 1, "renewals": 0,
                 "starts_on": None if ahead else day.isoformat(),
                 "expires_on": None if ahead else term_end(day, months).isoformat(), "released_on": None}
            return rec.put("measure", m["measure_id"], m)
        params = {"asset": asset_id, "debtor": debtor_id, "category": category, "measure": measure,
                  "months": months, "amount": amount}
        return self.store.once(ctx, "control", params, act)

    def release(self, ctx: HandlerContext, measure_id: str, reason: str) -> dict:
        def act(rec: Records) -> dict:
            day = today(ctx.now)
            m = self._measure(rec, measure_id, day, allowed=ACTIVE)
            m.update(status="released", released_on=day.isoformat(), release_reason=reason)
            rec.put("measure", measure_id, m)
            promoted = self._move_up(rec, m["asset_id"], m["rank"], day)
            return {**m, "promoted": promoted}
        return self.store.once(ctx, "release", {"measure": measure_id, "reason": reason}, act)

    def renew(self, ctx: HandlerContext, measure_id: str, months: int | None) -> dict:
        def act(rec: Records) -> dict:
            m = self._measure(rec, measure_id, today(ctx.now), allowed=("in_force",))
            term = months or m["months"]
            if term > MAX_MONTHS[m["category"]]:
                reject("months", f"a {CATEGORIES[m['category']]} {MEASURES[m['measure']]} may be renewed for at "
                       f"most {MAX_MONTHS[m['category']]} months (L2 Art 485)", max=MAX_MONTHS[m["category"]])
            previous = date.fromisoformat(m["expires_on"])
            m.update(expires_on=term_end(previous + timedelta(days=1), term).isoformat(),
                     renewals=m["renewals"] + 1, previous_expires_on=previous.isoformat())
            return rec.put("measure", measure_id, m)
        return self.store.once(ctx, "renew", {"measure": measure_id, "months": months}, act)

    # -- helpers ---------------------------------------------------------------------------------------------
    @staticmethod
    def _asset(asset_id: str) -> tuple[str, dict]:
        found = sandbox_data.asset(asset_id)
        if found is None:
            reject("asset_id", f"no asset {asset_id} is known to the search-and-control system", value=asset_id)
        return found

    @staticmethod
    def _measure(rec: Records, measure_id: str, day: date, allowed: tuple[str, ...]) -> dict:
        m = rec.get("measure", measure_id)
        if m is None:
            reject("measure_id", f"no measure {measure_id}", value=measure_id)
        status = _status(m, day)
        if status not in allowed:
            reject("measure_id", f"measure {measure_id} is {status}", status=status, expires_on=m["expires_on"])
        return m

    @staticmethod
    def _move_up(rec: Records, asset_id: str, released_rank: int, day: date) -> str | None:
        """Measures queued behind a released one move up; the first takes effect at once (J7 Art 26)."""
        _owner, item = sandbox_data.asset(asset_id) or (None, {})
        queued = [m for m in rec.find("measure", asset_id=asset_id)
                  if m["status"] == "queued" and m["rank"] > released_rank]
        for m in queued:
            m["rank"] -= 1
            if m["rank"] == 1 and not item.get("prior_seizure"):
                m.update(status="in_force", starts_on=day.isoformat(),
                         expires_on=term_end(day, m["months"]).isoformat())
            rec.put("measure", m["measure_id"], m)
        first = [m["measure_id"] for m in queued if m["status"] == "in_force"]
        return first[0] if first else None

    @staticmethod
    def _public(rec: Records, item: dict, day: date) -> dict:
        held = [m for m in rec.find("measure", asset_id=item["asset_id"]) if _status(m, day) in ACTIVE]
        encumbrances = [item["prior_seizure"]] if item.get("prior_seizure") else []
        encumbrances += [f"{m['case']} {MEASURES[m['measure']]}" + ("（轮候）" if m["status"] == "queued" else "")
                         for m in held]
        return {"asset_id": item["asset_id"], "category": item["category"], "holder": item["holder"],
                "description": item["description"], "value": item["value"], "encumbrances": encumbrances}
