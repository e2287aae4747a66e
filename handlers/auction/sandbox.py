"""Deterministic auction platform. The outcome is fixed when the auction is published, from the asset's data in
``handlers.sandbox_data``:

* no ``auction_ceiling`` (nobody bids at any price), or a reserve above it → 流拍 (no bid);
* otherwise, while fewer auctions of the asset have ended in 悔拍 than its ``buyer_defaults`` → 悔拍 (the winner
  does not pay; the deposit is forfeited);
* otherwise 成交 (sold): an online sale (变卖) sells at the reserve; an auction sells at the highest
  ``reserve + k × increment`` not above the ceiling (bidders: 1 at the reserve, else 2).

So the 王建国 flat (ceiling 1,000,000) gets no bid at a reserve of 1,200,000 and sells at a reserve of 960,000.
``result`` answers only once bidding has ended (by ``ctx.now``); before that it raises ``Retryable``.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

from handlers import sandbox_data
from handlers.base import HandlerContext, Retryable
from handlers.money import fmt
from handlers.sandbox_store import Records, SandboxStore
from handlers.timeutil import local, stamp
from handlers.validate import reject


class SandboxAuction:
    local = True      # in-process: safe to call inside the engine's transaction

    def __init__(self) -> None:
        self.store = SandboxStore("auction")

    def publish(self, ctx, asset_id, category, stage, platform, reserve, deposit, increment, bidding_starts,
                bidding_ends) -> dict:
        def act(rec: Records) -> dict:
            found = sandbox_data.asset(asset_id)
            if found is None:
                reject("asset_id", f"no asset {asset_id} is known to the auction sandbox", value=asset_id)
            item = found[1]
            if item["category"] != category:
                reject("category", f"asset {asset_id} is {item['category']}, not {category}", actual=item["category"])
            earlier = rec.find("auction", asset_id=asset_id)
            live = [a for a in earlier if datetime.fromisoformat(a["bidding_ends"]) > local(ctx.now)]
            if live:
                reject("asset_id", f"asset {asset_id} is already on auction ({live[0]['auction_id']}) until "
                       f"{live[0]['bidding_ends']}", auction_id=live[0]["auction_id"])
            defaults = sum(a["outcome"] == "buyer_default" for a in earlier)
            outcome, price = self._outcome(item, stage, reserve, increment, defaults)
            auction_id = "PM" + hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:12].upper()
            record = {"auction_id": auction_id, "asset_id": asset_id, "stage": stage, "platform": platform,
                      "reserve_price": fmt(reserve), "deposit": fmt(deposit), "bidding_ends": stamp(bidding_ends),
                      "outcome": outcome, "price": fmt(price) if price is not None else None,
                      "bidders": 0 if price is None else (1 if price == reserve else 2),
                      "url": f"https://sandbox.invalid/{platform}/auction/{auction_id}"}
            rec.put("auction", auction_id, record)
            return {"auction_id": auction_id, "url": record["url"]}
        params = {"asset": asset_id, "stage": stage, "platform": platform, "reserve": reserve, "deposit": deposit,
                  "increment": increment, "starts": bidding_starts, "ends": bidding_ends}
        return self.store.once(ctx, "publish", params, act)

    def result(self, ctx: HandlerContext, auction_id: str) -> dict:
        record = self.store.read(lambda rec: rec.get("auction", auction_id), ctx)
        if record is None:
            reject("auction_id", f"no auction {auction_id} on the platform", value=auction_id)
        if datetime.fromisoformat(record["bidding_ends"]) > local(ctx.now):
            raise Retryable(f"auction {auction_id} is still open until {record['bidding_ends']}",
                            {"auction_id": auction_id, "bidding_ends": record["bidding_ends"]})
        return record

    @staticmethod
    def _outcome(item: dict, stage: str, reserve: Decimal, increment: Decimal,
                 defaults: int) -> tuple[str, Decimal | None]:
        ceiling = item.get("auction_ceiling")
        if ceiling is None or reserve > Decimal(ceiling):
            return "no_bid", None
        steps = 0 if stage == "sale" else (Decimal(ceiling) - reserve) // increment
        price = reserve + steps * increment
        return ("buyer_default" if defaults < item.get("buyer_defaults", 0) else "sold"), price
