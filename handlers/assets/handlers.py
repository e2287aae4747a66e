"""Handlers for asset search and control (财产查控): ``asset.search``, ``asset.control``, ``asset.release``,
``asset.renew``. Inputs are checked here (the law's limits included); the configured 查控 adapter does the rest."""
from __future__ import annotations

from decimal import Decimal

from handlers.assets.adapter import (
    CATEGORIES,
    CHANNEL_NAMES,
    CHANNELS,
    FUNDS,
    MAX_MONTHS,
    MEASURES,
    MEASURES_FOR,
    RELEASE_REASONS,
)
from handlers.base import HandlerContext
from handlers.config import use
from handlers.money import fmt, parse_amount
from handlers.party_id import parse_party_id
from handlers.registry import Produces, handler
from handlers.timeutil import stamp
from handlers.validate import choice, choices, integer, reject, text


@handler("asset.search", system="assets", inputs=("debtor_id", "debtor_name"),
         optional=("channel", "categories"), records=(
             Produces("asset_search", {"search_id": "query_id", "channel": "channel", "categories": "categories",
                                       "complete": "complete", "searched_at": "queried_at", "found": "found"}),
             Produces("asset", {"asset_id": "asset_id", "search_id": "^query_id", "category": "category",
                                "category_cn": "category_cn", "description": "description", "holder": "holder",
                                "value": "value", "encumbrances": "encumbrances"}, each="assets")))
def asset_search(ctx: HandlerContext, debtor_id: str, debtor_name: str, channel: str = "national",
                 categories: list | None = None) -> dict:
    """Network asset search (网络查控): 总对总 (channel 'national') or 点对点 ('local'), all of the channel's
    categories unless some are named. ``complete`` tells a 终本 check that every category was queried."""
    party = parse_party_id("debtor_id", debtor_id)
    name = text("debtor_name", debtor_name, max_len=100)
    channel = choice("channel", channel, CHANNELS)
    asked = CHANNELS[channel] if categories is None else choices("categories", categories, CHANNELS[channel])
    with use("assets") as system:
        found = system.search(ctx, party, name, channel, tuple(asked))
    assets = [{**a, "category_cn": CATEGORIES[a["category"]], "currency": "CNY"} for a in found["assets"]]
    return {"query_id": found["query_id"], "channel": channel, "channel_cn": CHANNEL_NAMES[channel],
            "debtor_id": party.value, "debtor_name": name, "queried_at": stamp(ctx.now), "categories": list(asked),
            "complete": set(asked) == set(CHANNELS[channel]), "found": len(assets), "has_assets": bool(assets),
            "by_category": {c: sum(a["category"] == c for a in assets) for c in asked},
            "total_value": fmt(sum((Decimal(a["value"]) for a in assets), Decimal(0))), "assets": assets}


@handler("asset.control", system="assets", inputs=("asset_id", "debtor_id", "category"),
         optional=("measure", "months", "amount"), records=(
             Produces("measure", {"measure_id": "measure_id", "asset_id": "asset_id", "measure": "measure",
                                  "status": "status", "rank": "rank", "amount": "amount", "starts_on": "starts_on",
                                  "expires_on": "expires_on"}),
             # queued (轮候) behind another court's first seizure: that court disposes of it, not this one
             Produces("undisposable", {"asset_id": "asset_id", "reason": "=queued_behind_other_court",
                                       "detail": "holder"}, when="status=queued")))
def asset_control(ctx: HandlerContext, asset_id: str, debtor_id: str, category: str, measure: str | None = None,
                  months: int | None = None, amount: object = None) -> dict:
    """Freeze (冻结), seize (查封) or impound (扣押) an asset for at most the legal term (L2 Art 485: funds 1 year,
    movables 2, real estate and rights 3); ``amount`` caps a freeze of funds at the sum owed (no over-seizure)."""
    asset_id = text("asset_id", asset_id, max_len=64)
    party = parse_party_id("debtor_id", debtor_id)
    category = choice("category", category, CATEGORIES)
    measure = MEASURES_FOR[category][0] if measure is None else choice("measure", measure, MEASURES)
    if measure not in MEASURES_FOR[category]:
        reject("measure", f"a {CATEGORIES[category]} cannot be {MEASURES[measure]}; use "
               f"{', '.join(MEASURES_FOR[category])}", allowed=list(MEASURES_FOR[category]))
    longest = MAX_MONTHS[category]
    months = longest if months is None else integer("months", months, 1, longest)
    cap: Decimal | None = None
    if amount is not None:
        if category not in FUNDS:
            reject("amount", f"amount limits a freeze of funds ({', '.join(FUNDS)}), not a {category}")
        cap = parse_amount("amount", amount)
    with use("assets") as system:
        m = system.control(ctx, asset_id, party.value, category, measure, months, cap)
    return {"measure_id": m["measure_id"], "asset_id": asset_id, "category": category, "measure": measure,
            "measure_cn": MEASURES[measure], "status": m["status"], "rank": m["rank"], "amount": m["amount"],
            "months": months, "starts_on": m["starts_on"], "expires_on": m["expires_on"], "holder": m["holder"],
            "at": stamp(ctx.now)}


@handler("asset.release", system="assets", inputs=("measure_id",), optional=("reason",), records=(
    Produces("measure_release", {"measure_id": "measure_id", "released_on": "released_on", "reason": "reason",
                                 "promoted": "promoted"}),))
def asset_release(ctx: HandlerContext, measure_id: str, reason: str = "other") -> dict:
    """Release (解除) a freeze or seizure; a measure queued behind it (轮候) takes effect (J7 Art 26)."""
    measure_id = text("measure_id", measure_id, max_len=64)
    reason = choice("reason", reason, RELEASE_REASONS)
    with use("assets") as system:
        m = system.release(ctx, measure_id, reason)
    return {"measure_id": measure_id, "asset_id": m["asset_id"], "status": "released", "released_on": m["released_on"],
            "reason": reason, "reason_cn": RELEASE_REASONS[reason], "promoted": m["promoted"]}


@handler("asset.renew", system="assets", inputs=("measure_id",), optional=("months",), records=(
    Produces("measure_renewal", {"measure_id": "measure_id", "expires_on": "expires_on",
                                 "previous_expires_on": "previous_expires_on", "renewals": "renewals"}),))
def asset_renew(ctx: HandlerContext, measure_id: str, months: int | None = None) -> dict:
    """Renew (续行) a measure on or before its last day; otherwise it has lapsed (J7 Art 27) and a new measure
    is needed. Each renewal is at most the legal term for the category."""
    measure_id = text("measure_id", measure_id, max_len=64)
    months = None if months is None else integer("months", months, 1, max(MAX_MONTHS.values()))
    with use("assets") as system:
        m = system.renew(ctx, measure_id, months)
    return {"measure_id": measure_id, "asset_id": m["asset_id"], "status": m["status"],
            "previous_expires_on": m["previous_expires_on"], "expires_on": m["expires_on"],
            "renewals": m["renewals"], "at": stamp(ctx.now)}
