"""Interface to the credit-sanction system: consumption restriction (限制消费, J13) and the list of dishonest
debtors (失信被执行人名单, J14), published on 中国执行信息公开网.

The handlers enforce who may be listed and for how long; the system keeps the orders and listings and refuses
what contradicts its state (a duplicate, a deletion of a deleted listing, 'expired' before expiry)."""
from __future__ import annotations

from datetime import date
from typing import Protocol

from handlers.base import HandlerContext
from handlers.party_id import PartyId

GROUNDS = {                        # J14 Art 1 items (1)–(6)
    1: "有履行能力而拒不履行生效法律文书确定义务",
    2: "以伪造证据、暴力、威胁等方法妨碍、抗拒执行",
    3: "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
    4: "违反财产报告制度",
    5: "违反限制消费令",
    6: "无正当理由拒不履行执行和解协议",
}
RESTRICTIONS = (                   # J13 (2015) Art 3
    "乘坐交通工具时，选择飞机、列车软卧、轮船二等以上舱位",
    "在星级以上宾馆、酒店、夜总会、高尔夫球场等场所进行高消费",
    "购买不动产或者新建、扩建、高档装修房屋",
    "租赁高档写字楼、宾馆、公寓等场所办公",
    "购买非经营必需车辆",
    "旅游、度假",
    "子女就读高收费私立学校",
    "支付高额保费购买保险理财产品",
    "乘坐G字头动车组列车全部座位、其他动车组列车一等以上座位等其他非生活和工作必需的消费行为",
)
DELIST_REASONS = {                 # J14 Art 10, Art 12
    "performed": "已履行全部义务", "settlement_performed": "已履行执行和解协议",
    "applicant_request": "申请执行人书面申请删除", "no_assets_after_final": "终本后两次查询未发现财产且无线索",
    "suspended": "因再审或破产中止执行", "refused_enforcement": "裁定不予执行", "terminated": "裁定终结执行",
    "expired": "纳入期限届满", "corrected": "纳入错误予以纠正",
}
LIFT_REASONS = {                   # J13 Art 9
    "security": "提供确实有效的担保", "applicant_consent": "申请执行人同意", "performed": "履行完毕",
    "corrected": "限制错误予以纠正",
}


class CreditSystem(Protocol):
    def restrict(self, ctx: HandlerContext, party: PartyId, name: str, legal_representative: str | None) -> dict:
        """Issue and publish a consumption-restriction order: ``{"order_id"}``."""

    def lift(self, ctx: HandlerContext, order_id: str, reason: str) -> dict:
        """Lift an order: ``{"order_id", "debtor_id", "lifted_on"}``."""

    def blacklist(self, ctx: HandlerContext, party: PartyId, name: str, ground: int, expires_on: date | None) -> dict:
        """List and publish: ``{"listing_id"}``."""

    def delist(self, ctx: HandlerContext, listing_id: str, reason: str) -> dict:
        """Delete a listing: ``{"listing_id", "debtor_id", "deleted_on", "expires_on"}``."""
