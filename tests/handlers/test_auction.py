"""auction.publish / auction.result: first and second auctions, online sale, 流拍 and 悔拍 in the sandbox."""
from __future__ import annotations

import pytest

from handlers.base import Retryable

FLAT = {"asset_id": "WJG-RE-01", "category": "real_estate"}
CAR = {"asset_id": "RH-VEH-01", "category": "vehicle"}
EQUITY = {"asset_id": "RH-EQ-01", "category": "equity"}
OK = {**FLAT, "stage": "first", "reserve_price": "900000", "appraised_value": "1200000"}     # valid; tests vary it


def publish(call, stage="first", **kw):
    return call("auction.publish", stage=stage, **kw)


def result(call, auction, days=31):
    return call("auction.result", auction_id=auction["auction_id"], days=days)


def test_flat_first_auction_at_full_value_gets_no_bid(call):
    a = publish(call, **FLAT, reserve_price="1200000", appraised_value="1200000")
    assert (a["stage_cn"], a["platform_cn"], a["deposit"], a["notice_days"]) == ("一拍", "淘宝网", "120000.00", 30)
    assert (a["bidding_starts"], a["bidding_ends"]) == ("2026-04-01T09:00:00+08:00", "2026-04-02T09:00:00+08:00")
    r = result(call, a)
    assert (r["outcome"], r["outcome_cn"], r["sold"], r["price"]) == ("no_bid", "流拍", False, None)
    assert (r["in_lieu_price"], r["reauction_by"], r["next"]) == ("1200000.00", "2026-05-02", "second_auction")


def test_flat_second_auction_sells_up_to_the_ceiling(call):
    a = publish(call, "second", **FLAT, reserve_price="960000", previous_reserve="1200000", increment="5000")
    assert a["notice_days"] == 15
    r = result(call, a, days=17)
    assert (r["outcome_cn"], r["price"], r["bidders"], r["next"]) == ("成交", "1000000.00", 2, "transfer")
    assert r["in_lieu_price"] is None and r["reauction_by"] is None


def test_flat_first_auction_at_70_percent_sells(call):
    a = publish(call, **FLAT, reserve_price="840000", appraised_value="1200000", increment="10000")
    assert result(call, a)["price"] == "1000000.00"


def test_result_before_bidding_ends_is_retryable(call):
    a = publish(call, **FLAT, reserve_price="1200000", appraised_value="1200000")
    with pytest.raises(Retryable) as info:
        result(call, a, days=30)
    assert info.value.details["bidding_ends"] == a["bidding_ends"]


def test_car_never_sells_so_it_ends_in_lieu(call):
    first = publish(call, **CAR, reserve_price="105000", appraised_value="150000")
    assert first["notice_days"] == 15
    assert result(call, first, days=16)["next"] == "second_auction"
    second = publish(call, "second", **CAR, reserve_price="84000", previous_reserve="105000", days=20)
    assert second["notice_days"] == 7 and result(call, second, days=28)["next"] == "sale_or_in_lieu"
    sale = publish(call, "sale", **CAR, reserve_price="84000", previous_reserve="84000", days=30)
    assert sale["bidding_ends"] == "2026-05-31T09:00:00+08:00"              # 60-day online sale
    r = result(call, sale, days=90)
    assert (r["outcome"], r["in_lieu_price"], r["reauction_by"], r["next"]) == ("no_bid", "84000.00", None,
                                                                               "in_lieu_or_release")


def test_equity_buyer_defaults_once_then_sells(call):
    first = publish(call, **EQUITY, reserve_price="420000", appraised_value="600000")
    r = result(call, first)
    assert (r["outcome_cn"], r["deposit_forfeited"], r["price"], r["next"]) == ("悔拍", "42000.00", None, "reauction")
    again = publish(call, **EQUITY, reserve_price="420000", appraised_value="600000", days=40)
    assert result(call, again, days=72)["outcome"] == "sold"


def test_same_key_publishes_once(call):
    a = publish(call, **FLAT, reserve_price="1200000", appraised_value="1200000", key="k")
    assert publish(call, **FLAT, reserve_price="1200000", appraised_value="1200000", key="k") == a
    e = call.rejects("auction.publish", stage="first", **FLAT, reserve_price="1200000", appraised_value="1200000")
    assert e.details["auction_id"] == a["auction_id"]                       # on auction already


@pytest.mark.parametrize("params, field", [
    ({**FLAT, "stage": "first", "reserve_price": "839999.99", "appraised_value": "1200000"}, "reserve_price"),
    ({**FLAT, "stage": "first", "reserve_price": "900000"}, "appraised_value"),
    ({**FLAT, "stage": "second", "reserve_price": "950000", "previous_reserve": "1200000"}, "reserve_price"),
    ({**FLAT, "stage": "second", "reserve_price": "1300000", "previous_reserve": "1200000"}, "reserve_price"),
    ({**FLAT, "stage": "sale", "reserve_price": "900000"}, "previous_reserve"),
    ({**FLAT, "stage": "third", "reserve_price": "900000"}, "stage"),
    ({**OK, "deposit": "40000"}, "deposit"),
    ({**OK, "deposit": "200000"}, "deposit"),
    ({**OK, "notice_days": 29}, "notice_days"),
    ({**OK, "platform": "ebay"}, "platform"),
    ({**OK, "increment": "900000"}, "increment"),
    ({**FLAT, "stage": "first", "reserve_price": 0, "appraised_value": "1200000"}, "reserve_price"),
    ({"asset_id": "WJG-DEP-01", "category": "deposit", "stage": "first", "reserve_price": "1"}, "category"),
    ({"asset_id": "WJG-RE-01", "category": "vehicle", "stage": "first", "reserve_price": "900000",
      "appraised_value": "1200000"}, "category"),
    ({**OK, "asset_id": "NOPE"}, "asset_id"),
])
def test_publish_rejections(call, params, field):
    assert call.field("auction.publish", **params) == field


def test_result_of_an_unknown_auction(call):
    assert call.field("auction.result", auction_id="PM-NONE") == "auction_id"
