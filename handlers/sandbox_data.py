"""The world the sandboxes pretend to see: four demo debtors and their assets, chosen so that tests and
scenarios can reach every branch of the enforcement procedure deterministically.

=====================  =====================================================================================
王建国 (person)          deposit at ICBC (工商银行) CNY 86,000; a flat in 成都市锦江区 appraised CNY 1.2 million
                         (auction ceiling 1,000,000: 一拍 at 1,200,000 gets no bid, 二拍 at 960,000 sells);
                         housing fund (住房公积金) CNY 23,400, visible to 点对点 (local) search only
成都蓉辉商贸有限公司      equity (股权) 30% of a logistics company: needs appraisal, the first buyer defaults (悔拍);
(enterprise)             a car already seized by another court (轮候); nobody ever bids on it (流拍 → 以物抵债);
                         a small deposit at CCB (建设银行)
陈大明 (person)          nothing at all, and unreachable: the 终本 (no-asset exit) case, service by publication
周子涵 (minor, b. 2010)  a deposit at BOC; blacklisting must refuse (J14 Art 4)
=====================  =====================================================================================

Any other valid ID number is a debtor with nothing found. Amounts are text (yuan); ``auction_ceiling`` is the
highest price any bidder pays (None: nobody bids at any price); ``buyer_defaults`` is how many would-be sales
of the asset end in 悔拍 before one completes.
"""
from __future__ import annotations

DEBTORS: dict[str, dict] = {
    "510104197803150014": {
        "name": "王建国", "kind": "person", "reachable": True, "phone": "138****6621",
        "address": "成都市锦江区东大街下东大街段199号3栋2单元1502号",
        "assets": [
            {"asset_id": "WJG-DEP-01", "category": "deposit", "holder": "中国工商银行成都锦江支行",
             "description": "活期存款账户 6222 **** **** 4471", "value": "86000.00", "channels": ["national"]},
            {"asset_id": "WJG-RE-01", "category": "real_estate", "holder": "成都市不动产登记中心",
             "description": "成都市锦江区东大街下东大街段199号3栋2单元1502号 住宅 89.56㎡ "
                            "川(2019)成都市不动产权第0123456号",
             "value": "1200000.00", "tax_base": "1080000.00", "auction_ceiling": "1000000.00",
             "channels": ["national", "local"], "encumbrances": []},
            {"asset_id": "WJG-HF-01", "category": "housing_fund", "holder": "成都住房公积金管理中心",
             "description": "住房公积金个人账户 5101****7782", "value": "23400.00", "channels": ["local"]},
        ],
    },
    "91510104MA6CRH8K49": {
        "name": "成都蓉辉商贸有限公司", "kind": "entity", "reachable": True, "phone": "028-8666****",
        "address": "成都市锦江区春熙路北段8号", "legal_representative": "李敏",
        "assets": [
            {"asset_id": "RH-EQ-01", "category": "equity", "holder": "成都市锦江区市场监督管理局",
             "description": "四川锦程物流有限公司 30% 股权（认缴出资60万元）", "value": "600000.00",
             "auction_ceiling": "520000.00", "buyer_defaults": 1, "online_inquiry": False,
             "channels": ["national"]},
            {"asset_id": "RH-VEH-01", "category": "vehicle", "holder": "成都市公安局交通管理局",
             "description": "川A·8K2J3 丰田凯美瑞 2019款 白色", "value": "150000.00", "auction_ceiling": None,
             "prior_seizure": "（2025）川0105执888号 成都市青羊区人民法院 查封",
             "channels": ["national", "local"]},
            {"asset_id": "RH-DEP-01", "category": "deposit", "holder": "中国建设银行成都春熙路支行",
             "description": "基本存款账户 5105 **** **** 0093", "value": "3250.50", "channels": ["national"]},
        ],
    },
    "510107198511203317": {
        "name": "陈大明", "kind": "person", "reachable": False, "phone": "139****0415 (停机)",
        "address": "成都市武侯区（下落不明）", "assets": [],
    },
    "510104201006010026": {
        "name": "周子涵", "kind": "person", "reachable": True, "phone": None,
        "address": "成都市锦江区（随监护人居住）", "guardian": "周海",
        "assets": [
            {"asset_id": "ZZH-DEP-01", "category": "deposit", "holder": "中国银行成都锦江支行",
             "description": "定期存款账户 6216 **** **** 2210", "value": "12000.00", "channels": ["national"]},
        ],
    },
}


def debtor(party_id: str) -> dict | None:
    return DEBTORS.get(party_id)


def asset(asset_id: str) -> tuple[str, dict] | None:
    """``(owner's ID, asset)`` for a known asset id, else None."""
    for owner, data in DEBTORS.items():
        for item in data["assets"]:
            if item["asset_id"] == asset_id:
                return owner, item
    return None
