"""asset.search / asset.control / asset.release / asset.renew against the sandbox 查控 system."""
from __future__ import annotations

from handler_testdata import CHEN, RONGHUI, WANG


def search(call, who=WANG, **kw):
    return call("asset.search", debtor_id=who[0], debtor_name=who[1], **kw)


def freeze_deposit(call, **kw):
    return call("asset.control", asset_id="WJG-DEP-01", debtor_id=WANG[0], category="deposit", **kw)


def test_national_search_finds_the_deposit_and_the_flat(call):
    r = search(call)
    assert r["channel"] == "national" and r["channel_cn"] == "总对总" and r["complete"] is True
    assert r["queried_at"] == "2026-03-02T09:00:00+08:00" and r["query_id"]
    assert [(a["asset_id"], a["category_cn"], a["value"]) for a in r["assets"]] == [
        ("WJG-DEP-01", "存款", "86000.00"), ("WJG-RE-01", "不动产", "1200000.00")]
    assert r["found"] == 2 and r["has_assets"] and r["total_value"] == "1286000.00"
    assert "工商银行" in r["assets"][0]["holder"] and "锦江区" in r["assets"][1]["description"]


def test_local_search_adds_the_housing_fund(call):
    r = search(call, channel="local")
    assert {a["category"] for a in r["assets"]} == {"real_estate", "housing_fund"}


def test_search_of_named_categories_is_not_complete(call):
    r = search(call, categories=["deposit"])
    assert r["categories"] == ["deposit"] and r["complete"] is False and r["found"] == 1
    assert r["by_category"] == {"deposit": 1}


def test_nobody_and_unknown_debtors_have_nothing(call):
    nothing = search(call, who=CHEN)
    assert nothing["has_assets"] is False and set(nothing["by_category"].values()) == {0}
    r = search(call, who=("510104199001010019", "某某"))
    assert r["found"] == 0 and r["total_value"] == "0.00"


def test_search_rejections(call):
    assert call.rejects("asset.search", debtor_id=WANG[0], debtor_name=WANG[1], channel="local",
                        categories=["deposit"]).details["allowed"] == ["real_estate", "vehicle", "housing_fund"]
    assert call.field("asset.search", debtor_id=WANG[0], debtor_name=WANG[1], channel="bank") == "channel"
    assert call.field("asset.search", debtor_id=WANG[0], debtor_name="王建" ) == "debtor_name"
    assert call.field("asset.search", debtor_id="510104197803150015", debtor_name="王建国") == "debtor_id"
    assert call.field("asset.search", debtor_id=WANG[0], debtor_name=WANG[1], categories="deposit") == "categories"


def test_same_key_same_query(call):
    assert search(call, key="k") == search(call, key="k")
    assert search(call, key="k")["query_id"] != search(call, key="other")["query_id"]


def test_freeze_a_deposit_for_one_year_capped_at_the_claim(call):
    m = freeze_deposit(call, amount="50000")
    assert (m["measure"], m["measure_cn"], m["status"], m["rank"]) == ("freeze", "冻结", "in_force", 1)
    assert (m["amount"], m["months"], m["starts_on"], m["expires_on"]) == ("50000.00", 12, "2026-03-02", "2027-03-01")
    assert freeze_deposit(call, ctx_case="（2026）川0104执2号", amount=999999)["amount"] == "86000.00"


def test_seize_the_flat_for_three_years_by_default(call):
    m = call("asset.control", asset_id="WJG-RE-01", debtor_id=WANG[0], category="real_estate")
    assert (m["measure"], m["months"], m["expires_on"]) == ("seize", 36, "2029-03-01")


def test_control_rejections(call):
    assert call.rejects("asset.control", asset_id="WJG-DEP-01", debtor_id=WANG[0], category="deposit",
                        measure="impound").details["allowed"] == ["freeze"]
    assert call.rejects("asset.control", asset_id="WJG-DEP-01", debtor_id=WANG[0], category="deposit",
                        months=13).details == {"field": "months", "min": 1, "max": 12, "value": 13}
    assert call.field("asset.control", asset_id="WJG-RE-01", debtor_id=WANG[0], category="real_estate",
                        amount=100) == "amount"
    assert call.field("asset.control", asset_id="WJG-DEP-01", debtor_id=WANG[0], category="deposit",
                        amount="-5") == "amount"
    assert call.field("asset.control", asset_id="NOPE", debtor_id=WANG[0], category="deposit") == "asset_id"
    assert call.field("asset.control", asset_id="WJG-DEP-01", debtor_id=CHEN[0], category="deposit") == "debtor_id"
    e = call.rejects("asset.control", asset_id="WJG-DEP-01", debtor_id=WANG[0], category="equity")
    assert e.details == {"field": "category", "actual": "deposit"}


def test_same_key_freezes_once(call):
    first = freeze_deposit(call, key="k")
    assert freeze_deposit(call, key="k") == first
    assert search(call)["assets"][0]["encumbrances"] == ["（2026）川0104执1号 冻结"]


def test_a_second_freeze_in_the_same_case_is_refused(call):
    first = freeze_deposit(call)
    assert call.rejects("asset.control", asset_id="WJG-DEP-01", debtor_id=WANG[0],
                        category="deposit").details["measure_id"] == first["measure_id"]


def test_another_case_queues_and_moves_up_on_release(call):
    first = freeze_deposit(call)
    queued = freeze_deposit(call, ctx_case="（2026）川0104执2号")
    assert (queued["status"], queued["rank"], queued["expires_on"]) == ("queued", 2, None)
    released = call("asset.release", measure_id=first["measure_id"], reason="performed", days=10)
    assert released["status"] == "released" and released["promoted"] == queued["measure_id"]
    renewed = call("asset.renew", measure_id=queued["measure_id"], days=11)
    assert renewed["previous_expires_on"] == "2027-03-11"      # in force from the release on 12 March


def test_a_car_seized_by_another_court_is_queued(call):
    m = call("asset.control", asset_id="RH-VEH-01", debtor_id=RONGHUI[0], category="vehicle", measure="impound")
    assert (m["status"], m["rank"], m["months"]) == ("queued", 2, 24)
    r = search(call, who=RONGHUI, categories=["vehicle"])
    assert r["assets"][0]["encumbrances"][0].startswith("（2025）川0105执888号")
    assert call.rejects("asset.renew", measure_id=m["measure_id"]).details["status"] == "queued"


def test_renew_before_expiry_extends_from_the_last_day(call):
    m = freeze_deposit(call)
    r = call("asset.renew", measure_id=m["measure_id"], days=360)
    assert (r["previous_expires_on"], r["expires_on"], r["renewals"]) == ("2027-03-01", "2028-03-01", 1)
    assert call("asset.renew", measure_id=m["measure_id"], months=6, days=700)["expires_on"] == "2028-09-01"


def test_renew_after_expiry_is_refused_the_measure_lapsed(call):
    m = freeze_deposit(call)
    e = call.rejects("asset.renew", measure_id=m["measure_id"], days=366)
    assert e.details["status"] == "lapsed" and e.details["expires_on"] == "2027-03-01"


def test_renew_longer_than_the_law_allows_is_refused(call):
    m = freeze_deposit(call)
    assert call.rejects("asset.renew", measure_id=m["measure_id"], months=24).details["max"] == 12
    assert call.field("asset.renew", measure_id=m["measure_id"], months=0) == "months"


def test_release_rejections(call):
    m = freeze_deposit(call)
    call("asset.release", measure_id=m["measure_id"])
    assert call.rejects("asset.release", measure_id=m["measure_id"]).details["status"] == "released"
    assert call.field("asset.release", measure_id="M-NONE") == "measure_id"
    assert call.field("asset.release", measure_id=m["measure_id"], reason="bored") == "reason"
    assert call.rejects("asset.renew", measure_id=m["measure_id"]).details["status"] == "released"
