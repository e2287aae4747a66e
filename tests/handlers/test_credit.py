"""credit.*: consumption restriction (限制消费) and the dishonest-debtor list (失信名单), minors never listed."""
from __future__ import annotations

from datetime import date

import pytest

from handler_testdata import CHEN, RONGHUI, WANG, ZHOU


def listing(call, who=WANG, ground=4, **kw):
    return call("credit.blacklist", debtor_id=who[0], debtor_name=who[1], ground=ground, **kw)


def test_restrict_a_person(call):
    r = call("credit.restrict_consumption", debtor_id=WANG[0], debtor_name=WANG[1])
    assert r["applies_to"] == ["王建国"] and r["effective_on"] == "2026-03-02" and len(r["restrictions"]) == 9
    assert any("G字头" in item for item in r["restrictions"])


def test_restrict_an_enterprise_binds_its_legal_representative(call):
    r = call("credit.restrict_consumption", debtor_id=RONGHUI[0], debtor_name=RONGHUI[1], legal_representative="李敏")
    assert r["applies_to"] == ["成都蓉辉商贸有限公司", "李敏"]


def test_restriction_rejections_and_idempotency(call):
    assert call.field("credit.restrict_consumption", debtor_id=WANG[0], debtor_name=WANG[1],
                        legal_representative="某人") == "legal_representative"
    first = call("credit.restrict_consumption", debtor_id=WANG[0], debtor_name=WANG[1], key="k")
    assert call("credit.restrict_consumption", debtor_id=WANG[0], debtor_name=WANG[1], key="k") == first
    e = call.rejects("credit.restrict_consumption", debtor_id=WANG[0], debtor_name=WANG[1])
    assert e.details["existing"] == first["order_id"]
    other_case = call("credit.restrict_consumption", debtor_id=WANG[0], debtor_name=WANG[1], ctx_case="（2026）川0104执9号")
    assert other_case["order_id"] != first["order_id"]


def test_lift_a_restriction(call):
    order = call("credit.restrict_consumption", debtor_id=WANG[0], debtor_name=WANG[1])
    r = call("credit.lift_restriction", order_id=order["order_id"], reason="performed", days=40)
    assert (r["status"], r["lifted_on"], r["reason_cn"]) == ("lifted", "2026-04-11", "履行完毕")
    again = call.rejects("credit.lift_restriction", order_id=order["order_id"], reason="performed")
    assert again.details["status"] == "lifted"
    assert call.field("credit.lift_restriction", order_id="XF-NONE", reason="performed") == "order_id"
    assert call.field("credit.lift_restriction", order_id=order["order_id"], reason="mercy") == "reason"
    call("credit.restrict_consumption", debtor_id=WANG[0], debtor_name=WANG[1])      # may be restricted again


def test_blacklist_for_two_years(call):
    r = listing(call)
    assert (r["ground"], r["term_years"], r["listed_on"], r["expires_on"]) == (4, 2, "2026-03-02", "2028-03-01")
    assert r["ground_cn"] == "违反财产报告制度"


def test_serious_violation_extends_the_term(call):
    assert listing(call, ground=2, extra_years=3)["expires_on"] == "2031-03-01"
    assert listing(call, who=RONGHUI, ground="5", extra_years="1")["term_years"] == 3


def test_ground_one_has_no_fixed_term(call):
    r = listing(call, ground=1)
    assert (r["term_years"], r["expires_on"]) == (None, None)
    assert call.field("credit.blacklist", debtor_id=CHEN[0], debtor_name=CHEN[1], ground=1,
                        extra_years=1) == "extra_years"


@pytest.mark.parametrize("params, field", [
    ({"ground": 7}, "ground"), ({"ground": 0}, "ground"), ({"ground": "two"}, "ground"), ({"ground": True}, "ground"),
    ({"ground": 3, "extra_years": 4}, "extra_years"), ({"ground": 3, "debtor_name": ""}, "debtor_name"),
    ({"ground": 3, "debtor_id": "12345"}, "debtor_id"),
])
def test_blacklist_rejections(call, params, field):
    base = {"debtor_id": WANG[0], "debtor_name": WANG[1]}
    assert call.field("credit.blacklist", **{**base, **params}) == field


def test_a_minor_is_never_blacklisted(call):
    e = call.rejects("credit.blacklist", debtor_id=ZHOU[0], debtor_name=ZHOU[1], ground=1)
    assert e.details == {"field": "debtor_id", "age": 15, "rule": "J14 Art 4"} and "minor" in str(e)
    # the day before the 18th birthday (1 June 2028) still refused; on the birthday allowed
    day_before = (date(2028, 5, 31) - date(2026, 3, 2)).days
    assert call.rejects("credit.blacklist", debtor_id=ZHOU[0], debtor_name=ZHOU[1], ground=1,
                        days=day_before).details["age"] == 17
    assert listing(call, who=ZHOU, ground=1, days=day_before + 1)["listed_on"] == "2028-06-01"


def test_blacklist_same_key_once_and_no_duplicate(call):
    first = listing(call, key="k")
    assert listing(call, key="k") == first
    duplicate = call.rejects("credit.blacklist", debtor_id=WANG[0], debtor_name=WANG[1], ground=4)
    assert duplicate.details["existing"] == first["listing_id"]


def test_delist(call):
    r = call("credit.delist", listing_id=listing(call)["listing_id"], reason="performed", days=30)
    assert (r["status"], r["deleted_on"], r["reason_cn"]) == ("deleted", "2026-04-01", "已履行全部义务")
    listing(call)                                                # listed again after deletion: allowed


def test_delist_as_expired_only_after_the_term(call):
    lid = listing(call)["listing_id"]
    early = call.rejects("credit.delist", listing_id=lid, reason="expired", days=730)
    assert early.details["expires_on"] == "2028-03-01"
    assert call("credit.delist", listing_id=lid, reason="expired", days=731)["deleted_on"] == "2028-03-02"
    open_ended = listing(call, who=CHEN, ground=1)["listing_id"]
    assert call.field("credit.delist", listing_id=open_ended, reason="expired", days=3650) == "reason"


def test_delist_rejections(call):
    lid = listing(call)["listing_id"]
    assert call.field("credit.delist", listing_id=lid, reason="forgiven") == "reason"
    assert call.field("credit.delist", listing_id="SX-NONE", reason="performed") == "listing_id"
    call("credit.delist", listing_id=lid, reason="corrected")
    assert call.rejects("credit.delist", listing_id=lid, reason="performed").details["status"] == "deleted"
