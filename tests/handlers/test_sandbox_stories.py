"""Whole procedures through the handlers and the sandboxes, as the demo scenarios will run them."""
from __future__ import annotations

from decimal import Decimal

from handler_testdata import CHEN, WANG

CLAIM = "1000000"


def test_wang_jianguo_pays_in_full_after_a_second_auction(call):
    found = call("asset.search", debtor_id=WANG[0], debtor_name=WANG[1])
    deposit, flat = found["assets"]
    frozen = call("asset.control", asset_id=deposit["asset_id"], debtor_id=WANG[0], category="deposit", amount=CLAIM)
    seized = call("asset.control", asset_id=flat["asset_id"], debtor_id=WANG[0], category="real_estate")
    assert (frozen["amount"], seized["status"]) == ("86000.00", "in_force")
    call("ledger.receive", amount=frozen["amount"], payer=deposit["holder"], source="transfer", days=1)

    price = call("valuation.online_inquiry", asset_id=flat["asset_id"], days=5)["reference_price"]
    first = call("auction.publish", asset_id=flat["asset_id"], category="real_estate", stage="first",
                 reserve_price=price, appraised_value=price, days=10)
    assert call("auction.result", auction_id=first["auction_id"], days=41)["outcome"] == "no_bid"
    reserve = str(Decimal(price) * Decimal("0.8"))
    second = call("auction.publish", asset_id=flat["asset_id"], category="real_estate", stage="second",
                  reserve_price=reserve, previous_reserve=price, increment="5000", days=45)
    sold = call("auction.result", auction_id=second["auction_id"], days=61)
    assert (sold["outcome"], sold["price"]) == ("sold", "996800.00")

    call("ledger.receive", amount=sold["price"], payer="买受人", source="auction", days=70)
    call("ledger.payout", amount=CLAIM, payee="成都某银行", purpose="applicant", days=75)
    left = call("ledger.balance", days=75)["balance"]
    call("ledger.payout", amount=left, payee=WANG[1], purpose="refund", days=75)
    assert call("ledger.balance", days=76)["empty"] is True
    assert call("asset.release", measure_id=seized["measure_id"], reason="disposed", days=76)["status"] == "released"
    notice = call("document.generate", doc_type="closing_notice", debtor_name=WANG[1], applicant_name="成都某银行",
                  basis="（2025）川0104民初456号民事判决书", fields={"closing_mode": "fully_performed", "recovered": CLAIM})
    assert notice["path"].endswith(".docx")


def test_chen_daming_ends_in_final_closure_and_is_delisted_later(call):
    for channel in ("national", "local"):
        r = call("asset.search", debtor_id=CHEN[0], debtor_name=CHEN[1], channel=channel)
        assert r["complete"] and not r["has_assets"]
    doc = call("document.generate", doc_type="enforcement_notice", debtor_name=CHEN[1], applicant_name="李四",
               basis="（2025）川0107民初88号民事调解书", amount="52000")
    sms = call("party.notify", party_name=CHEN[1], party_id=CHEN[0], role="debtor", channel="sms", document=doc["path"])
    assert sms["delivered"] is False
    served = call("party.notify", party_name=CHEN[1], party_id=CHEN[0], role="debtor", channel="publication",
                  document=doc["path"])
    assert served["served_at"].startswith("2026-04-01")
    call("credit.restrict_consumption", debtor_id=CHEN[0], debtor_name=CHEN[1], days=31)
    listed = call("credit.blacklist", debtor_id=CHEN[0], debtor_name=CHEN[1], ground=4, days=45)
    ruling = call("document.generate", doc_type="final_ruling", debtor_name=CHEN[1], debtor_id=CHEN[0],
                  applicant_name="李四", basis="（2025）川0107民初88号民事调解书", amount="52000",
                  fields={"blacklisted": True}, days=100)
    assert ruling["title"] == "终结本次执行程序裁定书"
    for months in (6, 12):                                     # re-queries after 终本 find nothing
        assert call("asset.search", debtor_id=CHEN[0], debtor_name=CHEN[1], days=100 + 30 * months)["found"] == 0
    assert call("credit.delist", listing_id=listed["listing_id"], reason="no_assets_after_final",
                days=465)["status"] == "deleted"


def test_the_queued_car_never_sells_and_goes_in_lieu(call):
    car = {"asset_id": "RH-VEH-01", "category": "vehicle"}
    first = call("auction.publish", **car, stage="first", reserve_price="150000", appraised_value="150000")
    r1 = call("auction.result", auction_id=first["auction_id"], days=16)
    second = call("auction.publish", **car, stage="second", reserve_price="120000", previous_reserve="150000", days=20)
    r2 = call("auction.result", auction_id=second["auction_id"], days=28)
    assert (r1["next"], r2["next"], r2["in_lieu_price"]) == ("second_auction", "sale_or_in_lieu", "120000.00")
