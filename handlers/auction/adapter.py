"""Interface to the online judicial auction platforms (网络司法拍卖平台, J9): publish an auction or an online sale
(变卖) and read its result. The handlers apply the rules on reserve, deposit and notice periods."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from handlers.base import HandlerContext

PLATFORMS = {                      # the SPC's list of online auction platforms [M: check the current list]
    "taobao": "淘宝网", "jd": "京东网", "rmfysszc": "人民法院诉讼资产网", "gpai": "公拍网",
    "caa": "中国拍卖行业协会网", "icbc": "工商银行融e购", "cbex": "北京产权交易所",
}
STAGES = {"first": "一拍", "second": "二拍", "sale": "变卖"}
OUTCOMES = {"sold": "成交", "no_bid": "流拍", "buyer_default": "悔拍"}
MOVABLES = ("vehicle",)            # shorter notice periods for movables (J9 Arts 12, 26)
NOTICE_DAYS = {"first": (15, 30), "second": (7, 15), "sale": (0, 0)}   # stage -> (movables, other) minimum


class AuctionPlatform(Protocol):
    def publish(self, ctx: HandlerContext, asset_id: str, category: str, stage: str, platform: str,
                reserve: Decimal, deposit: Decimal, increment: Decimal, bidding_starts: datetime,
                bidding_ends: datetime) -> dict:
        """Publish the notice (公告): ``{"auction_id", "url"}``; refuses an unknown asset or one on auction now."""

    def result(self, ctx: HandlerContext, auction_id: str) -> dict:
        """After bidding ends: ``{"auction_id", "asset_id", "stage", "reserve_price", "deposit", "bidding_ends",
        "outcome", "price", "bidders"}``; raises Retryable while bidding is still open."""
