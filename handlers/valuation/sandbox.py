"""Deterministic valuation: prices come from ``handlers.sandbox_data`` values, reported at once.

* online inquiry: real estate and vehicles only (no inspection needed); each platform answers the asset's value
  times a fixed factor (淘宝网 0.97, 京东大数据 1.02, 工商银行融e购 1.00), so the average is about 99.67% of it;
  an asset marked ``online_inquiry: False`` (the equity) is refused;
* targeted inquiry: only assets with a ``tax_base`` (计税基准价), which is the price;
* appraisal: the asset's value; the appraiser drawn by lot is picked by the idempotency key's hash.
"""
from __future__ import annotations

import hashlib
from decimal import Decimal

from handlers import sandbox_data
from handlers.base import HandlerContext
from handlers.money import fmt
from handlers.sandbox_store import SandboxStore
from handlers.timeutil import today
from handlers.validate import reject
from handlers.valuation.adapter import APPRAISERS, PLATFORMS

FACTORS = {"taobao": Decimal("0.97"), "jd": Decimal("1.02"), "icbc": Decimal("1.00")}
ONLINE_CATEGORIES = ("real_estate", "vehicle")


def _digest(ctx: HandlerContext) -> str:
    return hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:12].upper()


def _asset(asset_id: str) -> dict:
    found = sandbox_data.asset(asset_id)
    if found is None:
        reject("asset_id", f"no asset {asset_id} is known to the valuation sandbox", value=asset_id)
    return found[1]


class SandboxValuation:
    local = True      # in-process: safe to call inside the engine's transaction

    def __init__(self) -> None:
        self.store = SandboxStore("valuation")

    def online_inquiry(self, ctx: HandlerContext, asset_id: str) -> dict:
        def act(_rec) -> dict:
            item = _asset(asset_id)
            if item["category"] not in ONLINE_CATEGORIES or item.get("online_inquiry") is False:
                reject("asset_id", f"asset {asset_id} ({item['category']}) is not suitable for online inquiry; "
                       "commission an appraisal (valuation.appraisal)", category=item["category"])
            value, digest = Decimal(item["value"]), _digest(ctx)
            return {"inquiry_id": "XJ" + digest, "results": [
                {"platform": p, "price": fmt(value * FACTORS[p]), "report_no": f"{p.upper()}-{digest[:8]}"}
                for p in PLATFORMS]}
        return self.store.once(ctx, "online_inquiry", {"asset": asset_id}, act)

    def targeted_inquiry(self, ctx: HandlerContext, asset_id: str, agency: str | None) -> dict:
        def act(_rec) -> dict:
            item = _asset(asset_id)
            if not item.get("tax_base"):
                reject("asset_id", f"asset {asset_id} has no tax base or government price; use online inquiry or "
                       "appraisal", category=item["category"])
            return {"inquiry_id": "DX" + _digest(ctx), "agency": agency or "国家税务总局成都市税务局",
                    "price": item["tax_base"], "basis": "计税基准价"}
        return self.store.once(ctx, "targeted_inquiry", {"asset": asset_id, "agency": agency}, act)

    def appraisal(self, ctx: HandlerContext, asset_id: str, appraiser: str | None) -> dict:
        def act(_rec) -> dict:
            item, digest = _asset(asset_id), _digest(ctx)
            chosen = appraiser or APPRAISERS[int(digest, 16) % len(APPRAISERS)]
            return {"appraisal_id": "PG" + digest, "appraiser": chosen, "appraised_value": item["value"],
                    "report_no": f"评报字〔{today(ctx.now).year}〕第{int(digest[:6], 16) % 10000:04d}号"}
        return self.store.once(ctx, "appraisal", {"asset": asset_id, "appraiser": appraiser}, act)
