"""ledger.*: one account per case (一案一账号), receipts and payouts, never a negative balance."""
from __future__ import annotations

import threading

import pytest

from handler_testdata import CASE


def receive(call, amount="86000", **kw):
    return call("ledger.receive", amount=amount, payer="王建国", source="transfer", **kw)


def pay(call, amount, **kw):
    return call("ledger.payout", amount=amount, payee="成都某银行", **kw)


def test_receive_opens_the_case_account(call):
    r = receive(call)
    assert (r["amount"], r["balance"], r["source_cn"], r["case_no"]) == ("86000.00", "86000.00", "扣划存款", CASE)
    assert r["payout_due"] == "2026-04-01" and r["account_no"].startswith("ZXK")
    assert receive(call, amount=1000)["account_no"] == r["account_no"]


def test_payout_within_the_balance(call):
    receive(call)
    p = pay(call, "50000", purpose="applicant", payee_account="6222000011112222")
    assert (p["amount"], p["balance"], p["purpose_cn"]) == ("50000.00", "36000.00", "发放申请执行人")


def test_payout_above_the_balance_is_refused_and_changes_nothing(call):
    receive(call)
    pay(call, "50000")
    e = call.rejects("ledger.payout", amount="36000.01", payee="成都某银行")
    assert e.details == {"field": "amount", "balance": "36000.00", "requested": "36000.01",
                         "account_no": e.details["account_no"]}
    assert call("ledger.balance")["balance"] == "36000.00"
    assert pay(call, "36000.00")["balance"] == "0.00"
    assert call("ledger.balance")["empty"] is True


def test_an_empty_account_pays_nothing(call):
    assert call.rejects("ledger.payout", amount="0.01", payee="x").details["balance"] == "0.00"


def test_same_key_pays_once(call):
    receive(call)
    first = pay(call, "50000", key="pay-1")
    assert pay(call, "50000", key="pay-1") == first
    b = call("ledger.balance")
    assert (b["balance"], b["payouts"]) == ("36000.00", 1)


def test_same_key_with_other_input_is_refused(call):
    receive(call)
    pay(call, "100", key="pay-1")
    assert call.field("ledger.payout", amount="200", payee="成都某银行", key="pay-1") == "idempotency_key"


def test_a_refused_payout_may_succeed_later_with_the_same_key(call):
    call.rejects("ledger.payout", amount="100", payee="成都某银行", key="pay-1")
    receive(call)
    assert pay(call, "100", key="pay-1")["balance"] == "85900.00"


def test_accounts_are_per_case(call):
    receive(call)
    other = "（2026）川0104执2号"
    assert call.rejects("ledger.payout", amount="1", payee="x", ctx_case=other).details["balance"] == "0.00"
    assert call("ledger.balance", case_no=other)["account_no"] != call("ledger.balance")["account_no"]


def test_concurrent_payouts_never_overdraw(call):
    receive(call, amount="100")
    outcomes: list[str] = []

    def worker(i: int) -> None:
        try:
            pay(call, "30", key=f"pay-{i}")
            outcomes.append("paid")
        except Exception as exc:          # noqa: BLE001 (collect refusals)
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("paid") == 3 and outcomes.count("BusinessRejection") == 5
    assert call("ledger.balance")["balance"] == "10.00"


def test_balance_tells_when_the_30_days_have_passed(call):
    receive(call, amount="1000")
    receive(call, amount="500", days=10)
    pay(call, "1000", days=20)                    # the first receipt is settled; the second waits
    b = call("ledger.balance", days=40)
    assert (b["received"], b["paid_out"], b["balance"]) == ("1500.00", "1000.00", "500.00")
    assert (b["payout_due"], b["overdue"]) == ("2026-04-11", False)
    assert call("ledger.balance", days=41)["overdue"] is True


def test_exact_decimal_amounts(call):
    receive(call, amount=0.1)
    assert receive(call, amount="0.2")["balance"] == "0.30"


@pytest.mark.parametrize("amount", [0, "0.00", -5, "12.345", "abc", "NaN", "Infinity", True, None, [1], "1e13"])
def test_amount_rejections(call, amount):
    assert call.field("ledger.receive", amount=amount, payer="x") == "amount"
    assert call.field("ledger.payout", amount=amount, payee="x") == "amount"


def test_other_rejections(call):
    assert call.field("ledger.receive", amount=1, payer="x", source="gift") == "source"
    assert call.field("ledger.payout", amount=1, payee="x", purpose="bonus") == "purpose"
    assert call.field("ledger.payout", amount=1, payee="") == "payee"
    assert call.field("ledger.balance", ctx_case=None) == "case_no"
    assert receive(call, ctx_case=None, case_no=CASE)["case_no"] == CASE
