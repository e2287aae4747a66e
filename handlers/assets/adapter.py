"""Interface to the online search-and-control system (网络执行查控系统): the SPC's 总对总 (national) network and
the local 点对点 links, through which courts query assets and freeze, seize or impound them (J6 Art 1).

The vocabulary below is shared by the handlers and every adapter: category codes, what each channel covers,
which measure fits which category and the longest term the law allows (L2 Art 485).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from handlers.base import HandlerContext
from handlers.party_id import PartyId

CATEGORIES = {                       # code -> Chinese term
    "deposit": "存款", "online_funds": "网络资金", "securities": "证券", "insurance": "保险",
    "equity": "股权", "real_estate": "不动产", "vehicle": "车辆", "housing_fund": "住房公积金",
}
CHANNELS = {                         # 总对总 (national) and 点对点 (local) coverage, per domain §2.4 [P]
    "national": ("deposit", "online_funds", "securities", "insurance", "equity", "real_estate", "vehicle"),
    "local": ("real_estate", "vehicle", "housing_fund"),
}
CHANNEL_NAMES = {"national": "总对总", "local": "点对点"}
MEASURES = {"freeze": "冻结", "seize": "查封", "impound": "扣押"}
FUNDS = ("deposit", "online_funds", "housing_fund")
MEASURES_FOR = {                     # which control measure fits which category; the first is the default
    **{c: ("freeze",) for c in (*FUNDS, "securities", "insurance", "equity")},
    "real_estate": ("seize",), "vehicle": ("seize", "impound"),
}
MAX_MONTHS = {                       # L2 Art 485: funds 1 year, movables 2 years, real estate and rights 3 years
    **{c: 12 for c in FUNDS}, "vehicle": 24,
    **{c: 36 for c in ("real_estate", "equity", "securities", "insurance")},
}
RELEASE_REASONS = {
    "performed": "履行完毕", "over_seizure": "超标的查封解除", "objection_upheld": "异议成立",
    "disposed": "财产已处置", "applicant_request": "申请执行人申请", "final_closure": "终结执行", "other": "其他",
}


class AssetSystem(Protocol):
    """What the handlers need from 查控. Results are JSON-able dicts; state refusals raise BusinessRejection."""

    def search(self, ctx: HandlerContext, party: PartyId, name: str, channel: str,
               categories: tuple[str, ...]) -> dict:
        """``{"query_id", "assets": [{"asset_id", "category", "holder", "description", "value",
        "encumbrances"}]}`` for the categories queried (empty list: nothing found); refuses a name that does
        not belong to the ID number."""

    def control(self, ctx: HandlerContext, asset_id: str, debtor_id: str, category: str, measure: str,
                months: int, amount: Decimal | None) -> dict:
        """Freeze / seize / impound: ``{"measure_id", "holder", "status": "in_force"|"queued", "rank", "amount",
        "starts_on", "expires_on"}``; refuses an unknown asset, another owner or a duplicate by the same case."""

    def release(self, ctx: HandlerContext, measure_id: str, reason: str) -> dict:
        """Lift a measure: ``{"measure_id", "asset_id", "released_on", "promoted"}`` (the 轮候 measure now in force)."""

    def renew(self, ctx: HandlerContext, measure_id: str, months: int | None) -> dict:
        """Renew (续行) on or before the last day, for ``months`` (default: the original term):
        ``{"measure_id", "asset_id", "previous_expires_on", "expires_on", "renewals"}``; refuses a lapsed,
        released or queued measure, or a term above the legal maximum for its category."""
