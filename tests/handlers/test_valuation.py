"""valuation.online_inquiry / targeted_inquiry / appraisal: the reference price (财产处置参考价)."""
from __future__ import annotations


def test_online_inquiry_averages_all_platforms(call):
    r = call("valuation.online_inquiry", asset_id="WJG-RE-01")
    assert [(p["platform_cn"], p["price"]) for p in r["results"]] == [
        ("淘宝网", "1164000.00"), ("京东大数据", "1224000.00"), ("工商银行融e购", "1200000.00")]
    assert r["reference_price"] == "1196000.00" and r["method_cn"] == "网络询价"
    assert (r["due_by"], r["valid_until"], r["dispose_by"]) == ("2026-03-05", "2027-03-01", "2026-03-12")


def test_online_inquiry_refuses_equity_and_points_to_appraisal(call):
    e = call.rejects("valuation.online_inquiry", asset_id="RH-EQ-01")
    assert e.details == {"field": "asset_id", "category": "equity"} and "valuation.appraisal" in str(e)


def test_targeted_inquiry_uses_the_tax_base(call):
    r = call("valuation.targeted_inquiry", asset_id="WJG-RE-01")
    assert (r["reference_price"], r["basis"], r["method_cn"]) == ("1080000.00", "计税基准价", "定向询价")
    assert call("valuation.targeted_inquiry", asset_id="WJG-RE-01", agency="成都市税务局")["agency"] == "成都市税务局"
    assert call.rejects("valuation.targeted_inquiry", asset_id="RH-VEH-01").details["category"] == "vehicle"


def test_appraisal_of_equity(call):
    r = call("valuation.appraisal", asset_id="RH-EQ-01", key="k")
    assert r["appraised_value"] == r["reference_price"] == "600000.00"
    assert r["due_by"] == "2026-04-01" and r["report_no"].startswith("评报字〔2026〕")
    assert call("valuation.appraisal", asset_id="RH-EQ-01", key="k") == r           # drawn by lot: stable per key
    assert call("valuation.appraisal", asset_id="RH-EQ-01", appraiser="某评估公司")["appraiser"] == "某评估公司"


def test_valuation_rejections(call):
    for op in ("valuation.online_inquiry", "valuation.targeted_inquiry", "valuation.appraisal"):
        assert call.rejects(op, asset_id="NOPE").details == {"field": "asset_id", "value": "NOPE"}
        assert call.field(op, asset_id="  ") == "asset_id"
        assert call.field(op, asset_id=42) == "asset_id"
