"""The shared checks: money, ID numbers and credit codes, dates; and that the demo data is valid."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from handlers import sandbox_data
from handlers.base import BusinessRejection
from handlers.money import fmt, fmt_cn, parse_amount
from handlers.party_id import parse_party_id
from handlers.timeutil import cn_date, stamp, term_end


@pytest.mark.parametrize("value, expected", [(86000, "86000.00"), ("86000.5", "86000.50"), (0.1, "0.10"),
                                             (" 12.30 ", "12.30"), (Decimal("8.6E+4"), "86000.00")])
def test_amounts(value, expected):
    assert fmt(parse_amount("amount", value)) == expected


def test_zero_only_when_allowed():
    assert fmt(parse_amount("recovered", "0", allow_zero=True)) == "0.00"
    with pytest.raises(BusinessRejection):
        parse_amount("amount", "0")


def test_print_format():
    assert fmt_cn(Decimal("1234567.5")) == "1,234,567.50"


def test_resident_id_numbers():
    assert parse_party_id("debtor_id", " 51010419900101102x ").value == "51010419900101102X"   # X check digit
    wang = parse_party_id("debtor_id", "510104197803150014")
    assert (wang.kind, wang.birth_date, wang.age_on(date(2026, 3, 2))) == ("person", date(1978, 3, 15), 47)


def test_credit_codes():
    p = parse_party_id("debtor_id", "91510104ma6crh8k49")
    assert (p.kind, p.value, p.birth_date, p.age_on(date(2026, 1, 1))) == ("entity", "91510104MA6CRH8K49", None, None)


@pytest.mark.parametrize("value, message", [
    ("510104197803150015", "check digit"), ("91510104MA6CRH8K48", "check character"),
    ("12345", "neither"), ("", "must be"), (510104197803150014, "must be"),
])
def test_bad_ids(value, message):
    with pytest.raises(BusinessRejection, match=message) as info:
        parse_party_id("debtor_id", value)
    assert info.value.details["field"] == "debtor_id"


def test_demo_debtors_have_valid_ids_and_unique_assets():
    ids = [a["asset_id"] for d in sandbox_data.DEBTORS.values() for a in d["assets"]]
    assert len(ids) == len(set(ids))
    for number, debtor in sandbox_data.DEBTORS.items():
        assert parse_party_id("debtor_id", number).kind == debtor["kind"]


def test_dates():
    assert stamp(datetime(2026, 3, 2, 1, 0, tzinfo=UTC)) == "2026-03-02T09:00:00+08:00"
    assert stamp(datetime(2026, 3, 2, 1, 0)) == "2026-03-02T09:00:00+08:00"        # naive = UTC
    assert term_end(date(2026, 3, 2), 12) == date(2027, 3, 1)
    assert term_end(date(2027, 8, 31), 6) == date(2028, 2, 28)                      # clamped to February
    assert cn_date(date(2026, 3, 2)) == "二〇二六年三月二日"
    assert cn_date(date(2030, 12, 31)) == "二〇三〇年十二月三十一日"
    assert cn_date(date(2031, 10, 20)) == "二〇三一年十月二十日"
