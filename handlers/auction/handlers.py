"""Handlers for online judicial auction (网络司法拍卖, J9; fallback rules J8): ``auction.publish`` and
``auction.result``. The rules checked here: reserve ≥ 70% of the appraised value for the first auction
(J9 Art 10), a re-auction at most 20% lower (Art 26), deposit 5–20% of the reserve (Art 17), minimum notice
periods (Arts 12, 26), and funds are transferred (扣划), never auctioned."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from handlers.assets.adapter import CATEGORIES, FUNDS
from handlers.auction.adapter import MOVABLES, NOTICE_DAYS, OUTCOMES, PLATFORMS, STAGES
from handlers.base import HandlerContext
from handlers.config import use
from handlers.money import fmt, parse_amount
from handlers.registry import handler
from handlers.timeutil import local, stamp
from handlers.validate import choice, integer, reject, text

SALEABLE = [c for c in CATEGORIES if c not in FUNDS]
SALE_WINDOW_DAYS = 60            # online sale (变卖) stays open 60 days [P: platform practice]
NEXT = {("sold", None): "transfer", ("no_bid", "first"): "second_auction", ("no_bid", "second"): "sale_or_in_lieu",
        ("no_bid", "sale"): "in_lieu_or_release", ("buyer_default", None): "reauction"}


def _share(amount: Decimal, pct: str) -> Decimal:
    return (amount * Decimal(pct) / 100).quantize(Decimal("0.01"))


def _default_step(reserve: Decimal) -> Decimal:
    """0.5% of the reserve, in whole hundreds of yuan once that is at least 100 (the panel may set its own)."""
    step = (reserve / 200).quantize(Decimal(1), ROUND_DOWN)
    return max(Decimal(1), step // 100 * 100 if step >= 100 else step)


@handler("auction.publish", system="auction", inputs=("asset_id", "category", "stage", "reserve_price"),
         optional=("platform", "appraised_value", "previous_reserve", "deposit", "increment", "notice_days"))
def auction_publish(ctx: HandlerContext, asset_id: str, category: str, stage: str, reserve_price: object,
                    platform: str = "taobao", appraised_value: object = None, previous_reserve: object = None,
                    deposit: object = None, increment: object = None, notice_days: object = None) -> dict:
    """Publish an auction (一拍/二拍) or online sale (变卖). ``appraised_value`` is required for the first
    auction, ``previous_reserve`` (the failed auction's reserve) for the second and for a sale."""
    asset_id = text("asset_id", asset_id, max_len=64)
    if category in FUNDS:
        reject("category", f"{CATEGORIES[category]} is transferred (扣划), not auctioned", allowed=SALEABLE)
    category, stage = choice("category", category, SALEABLE), choice("stage", stage, STAGES)
    platform = choice("platform", platform, PLATFORMS)
    reserve = parse_amount("reserve_price", reserve_price)
    if stage == "first":
        if appraised_value is None:
            reject("appraised_value", "the first auction needs appraised_value (the reserve is ≥ 70% of it)")
        floor = _share(parse_amount("appraised_value", appraised_value), "70")
        if reserve < floor:
            reject("reserve_price", f"the first reserve must be at least 70% of the appraised value ({fmt(floor)}; "
                   "J9 Art 10)", min=fmt(floor))
    else:
        if previous_reserve is None:
            reject("previous_reserve", f"a {STAGES[stage]} needs previous_reserve, the reserve of the failed auction")
        previous = parse_amount("previous_reserve", previous_reserve)
        floor = _share(previous, "80") if stage == "second" else Decimal("0.01")
        if not floor <= reserve <= previous:
            reject("reserve_price", f"the {STAGES[stage]} reserve must be between {fmt(floor)} and {fmt(previous)} "
                   "(at most 20% below the previous reserve for 二拍, J9 Art 26)", min=fmt(floor), max=fmt(previous))
    deposit_amount = _share(reserve, "10") if deposit is None else parse_amount("deposit", deposit)
    if not _share(reserve, "5") <= deposit_amount <= _share(reserve, "20"):
        reject("deposit", "the deposit must be 5%–20% of the reserve (J9 Art 17)",
               min=fmt(_share(reserve, "5")), max=fmt(_share(reserve, "20")))
    step = _default_step(reserve) if increment is None else parse_amount("increment", increment)
    if step >= reserve:
        reject("increment", "the bid increment must be smaller than the reserve")
    least = NOTICE_DAYS[stage][0 if category in MOVABLES else 1]
    days = least if notice_days is None else integer("notice_days", notice_days, least, 365)
    starts = local(ctx.now) + timedelta(days=days)
    ends = starts + (timedelta(days=SALE_WINDOW_DAYS) if stage == "sale" else timedelta(hours=24))
    with use("auction") as system:
        answer = system.publish(ctx, asset_id, category, stage, platform, reserve, deposit_amount, step, starts, ends)
    return {"auction_id": answer["auction_id"], "asset_id": asset_id, "category": category, "stage": stage,
            "stage_cn": STAGES[stage], "platform": platform, "platform_cn": PLATFORMS[platform],
            "reserve_price": fmt(reserve), "deposit": fmt(deposit_amount), "increment": fmt(step),
            "notice_days": days, "published_at": stamp(ctx.now), "bidding_starts": stamp(starts),
            "bidding_ends": stamp(ends), "url": answer["url"]}


@handler("auction.result", system="auction", inputs=("auction_id",))
def auction_result(ctx: HandlerContext, auction_id: str) -> dict:
    """The outcome once bidding has ended: 成交 (sold), 流拍 (no bid) or 悔拍 (the buyer defaults: deposit
    forfeited, re-auction without that buyer, J9 Art 24). After 流拍 or 悔拍 the applicant may take the asset in
    lieu of payment at that reserve (以物抵债, J8 Art 16); ``next`` names the usual next step."""
    auction_id = text("auction_id", auction_id, max_len=64)
    with use("auction") as system:
        r = system.result(ctx, auction_id)
    outcome, stage = r["outcome"], r["stage"]
    failed = outcome != "sold"
    ended = datetime.fromisoformat(r["bidding_ends"])
    return {"auction_id": auction_id, "asset_id": r["asset_id"], "stage": stage, "stage_cn": STAGES[stage],
            "outcome": outcome, "outcome_cn": OUTCOMES[outcome], "sold": not failed,
            "price": r["price"] if outcome == "sold" else None, "bidders": r["bidders"],
            "reserve_price": r["reserve_price"], "ended_at": r["bidding_ends"],
            "in_lieu_price": r["reserve_price"] if failed else None,
            "deposit_forfeited": r["deposit"] if outcome == "buyer_default" else None,
            "reauction_by": (ended + timedelta(days=30)).date().isoformat() if failed and stage != "sale" else None,
            "next": NEXT.get((outcome, None)) or NEXT[(outcome, stage)]}
