"""Handlers for the reference price (财产处置参考价, J10): ``valuation.online_inquiry`` (网络询价),
``valuation.targeted_inquiry`` (定向询价) and ``valuation.appraisal`` (委托评估).

Every result carries ``reference_price`` (the figure the auction's reserve is based on), ``valid_until`` (a
reference price is valid for one year, J10 Art 27) and ``dispose_by`` (realisation starts within 10 days of the
price, Art 30), so a diagram can use any method interchangeably.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from handlers.base import HandlerContext
from handlers.config import use
from handlers.money import fmt
from handlers.registry import handler
from handlers.timeutil import stamp, term_end, today
from handlers.validate import optional_text, text
from handlers.valuation.adapter import PLATFORMS


def _dates(ctx: HandlerContext, report_days: int) -> dict:
    day = today(ctx.now)
    return {"reported_at": stamp(ctx.now), "due_by": (day + timedelta(days=report_days)).isoformat(),
            "valid_until": term_end(day, 12).isoformat(), "dispose_by": (day + timedelta(days=10)).isoformat()}


@handler("valuation.online_inquiry", system="valuation", inputs=("asset_id",))
def online_inquiry(ctx: HandlerContext, asset_id: str) -> dict:
    """Online inquiry (网络询价): ask every listed platform; the reference price is their average (J10 Arts 7,
    13). Platforms report within 3 days (Art 11)."""
    asset_id = text("asset_id", asset_id, max_len=64)
    with use("valuation") as system:
        answer = system.online_inquiry(ctx, asset_id)
    results = [{**r, "platform_cn": PLATFORMS.get(r["platform"], r["platform"])} for r in answer["results"]]
    average = sum((Decimal(r["price"]) for r in results), Decimal(0)) / len(results)
    return {"inquiry_id": answer["inquiry_id"], "asset_id": asset_id, "method": "online_inquiry",
            "method_cn": "网络询价", "results": results, "reference_price": fmt(average), **_dates(ctx, 3)}


@handler("valuation.targeted_inquiry", system="valuation", inputs=("asset_id",), optional=("agency",))
def targeted_inquiry(ctx: HandlerContext, asset_id: str, agency: str | None = None) -> dict:
    """Targeted inquiry (定向询价): the tax base or government price from the agency holding it (J10 Arts 5–6)."""
    asset_id = text("asset_id", asset_id, max_len=64)
    agency = optional_text("agency", agency, max_len=100)
    with use("valuation") as system:
        answer = system.targeted_inquiry(ctx, asset_id, agency)
    return {"inquiry_id": answer["inquiry_id"], "asset_id": asset_id, "method": "targeted_inquiry",
            "method_cn": "定向询价", "agency": answer["agency"], "basis": answer["basis"],
            "reference_price": answer["price"], **_dates(ctx, 3)}


@handler("valuation.appraisal", system="valuation", inputs=("asset_id",), optional=("appraiser",))
def appraisal(ctx: HandlerContext, asset_id: str, appraiser: str | None = None) -> dict:
    """Appraisal (委托评估) when required, agreed, or online inquiry is unsuitable (J10 Art 14); the appraiser is
    the parties' choice or drawn by lot, and reports within 30 days (Art 19)."""
    asset_id = text("asset_id", asset_id, max_len=64)
    appraiser = optional_text("appraiser", appraiser, max_len=100)
    with use("valuation") as system:
        answer = system.appraisal(ctx, asset_id, appraiser)
    return {"appraisal_id": answer["appraisal_id"], "asset_id": asset_id, "method": "appraisal",
            "method_cn": "委托评估", "appraiser": answer["appraiser"], "report_no": answer["report_no"],
            "appraised_value": answer["appraised_value"], "reference_price": answer["appraised_value"],
            **_dates(ctx, 30)}
