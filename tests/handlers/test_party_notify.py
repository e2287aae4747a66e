"""party.notify: service on parties (送达), including publication for an unreachable debtor."""
from __future__ import annotations

from handler_testdata import CHEN, WANG


def test_electronic_service_on_the_applicant_takes_effect_at_once(call):
    r = call("party.notify", party_name="成都某银行", role="applicant", message="案件已立案执行")
    assert (r["delivered"], r["channel_cn"], r["role_cn"]) == (True, "电子送达", "申请执行人")
    assert r["served_at"] == r["sent_at"] == "2026-03-02T09:00:00+08:00" and r["failure"] is None


def test_unreachable_debtor_then_publication(call):
    r = call("party.notify", party_name=CHEN[1], party_id=CHEN[0], role="debtor", channel="sms",
             document="2026_川0104执1号/enforcement_notice-abc.docx")
    assert (r["delivered"], r["failure"], r["served_at"]) == (False, "号码停机", None)
    r = call("party.notify", party_name=CHEN[1], party_id=CHEN[0], role="debtor", channel="publication",
             document="2026_川0104执1号/enforcement_notice-abc.docx")
    assert r["delivered"] and r["served_at"] == "2026-04-01T09:00:00+08:00"      # counts after 30 days
    r = call("party.notify", party_name=CHEN[1], role="debtor", channel="publication", message="询价报告",
             publication_days=15)
    assert r["served_at"] == "2026-03-17T09:00:00+08:00"


def test_same_key_same_delivery(call):
    a = call("party.notify", party_name=WANG[1], party_id=WANG[0], role="debtor", message="x", key="k")
    assert call("party.notify", party_name=WANG[1], party_id=WANG[0], role="debtor", message="x", key="k") == a


def test_notify_rejections(call):
    base = {"party_name": WANG[1], "role": "debtor", "message": "x"}
    assert call.field("party.notify", party_name=WANG[1], role="debtor") == "message"
    assert call.field("party.notify", **{**base, "role": "judge"}) == "role"
    assert call.field("party.notify", **{**base, "channel": "pigeon"}) == "channel"
    assert call.field("party.notify", **{**base, "document": "/etc/passwd"}) == "document"
    assert call.field("party.notify", **{**base, "document": "../x.docx"}) == "document"
    assert call.field("party.notify", **{**base, "publication_days": 15}) == "publication_days"
    assert call.field("party.notify", **{**base, "party_id": "123"}) == "party_id"
    assert call.field("party.notify", **{**base, "party_name": " "}) == "party_name"
