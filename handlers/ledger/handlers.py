"""Handlers for case money (执行款): ``ledger.receive`` (到账), ``ledger.payout`` (发放), ``ledger.balance``.
The account is the case's own (一案一账号); money is paid out within 30 days of arrival (N4), so results carry
``payout_due`` for a timer."""
from __future__ import annotations

from datetime import date, timedelta

from handlers.base import HandlerContext
from handlers.config import use
from handlers.ledger.adapter import PAYOUT_DAYS, PURPOSES, SOURCES
from handlers.money import fmt, parse_amount
from handlers.registry import Produces, handler
from handlers.timeutil import stamp, today
from handlers.validate import case_no as case_number
from handlers.validate import choice, optional_text, text


def _due(day: str | None) -> str | None:
    return (date.fromisoformat(day) + timedelta(days=PAYOUT_DAYS)).isoformat() if day else None


@handler("ledger.receive", system="ledger", inputs=("amount", "payer"), optional=("source", "reference", "case_no"),
         records=(Produces("receipt", {"receipt_id": "receipt_id", "amount": "amount", "payer": "payer",
                                       "source": "source", "received_at": "received_at"}),))
def ledger_receive(ctx: HandlerContext, amount: object, payer: str, source: str = "other",
                   reference: str | None = None, case_no: str | None = None) -> dict:
    """Record money arriving in the case account (案款到账): transferred deposits (扣划), voluntary payment,
    auction proceeds."""
    case = case_number(ctx, case_no)
    value = parse_amount("amount", amount)
    payer = text("payer", payer, max_len=100)
    source = choice("source", source, SOURCES)
    reference = optional_text("reference", reference, max_len=100)
    with use("ledger") as ledger:
        r = ledger.receive(ctx, case, value, payer, source, reference)
    return {"receipt_id": r["receipt_id"], "account_no": r["account_no"], "case_no": case, "amount": fmt(value),
            "payer": payer, "source": source, "source_cn": SOURCES[source], "balance": r["balance"],
            "received_at": stamp(ctx.now), "payout_due": _due(today(ctx.now).isoformat())}


@handler("ledger.payout", system="ledger", inputs=("amount", "payee"), optional=("purpose", "payee_account", "case_no"),
         records=(Produces("payout", {"payout_id": "payout_id", "amount": "amount", "payee": "payee",
                                      "purpose": "purpose", "paid_at": "paid_at"}),))
def ledger_payout(ctx: HandlerContext, amount: object, payee: str, purpose: str = "applicant",
                  payee_account: str | None = None, case_no: str | None = None) -> dict:
    """Pay out of the case account (案款发放); refused when it exceeds the balance (never negative)."""
    case = case_number(ctx, case_no)
    value = parse_amount("amount", amount)
    payee = text("payee", payee, max_len=100)
    purpose = choice("purpose", purpose, PURPOSES)
    payee_account = optional_text("payee_account", payee_account, max_len=64)
    with use("ledger") as ledger:
        p = ledger.payout(ctx, case, value, payee, purpose, payee_account)
    return {"payout_id": p["payout_id"], "account_no": p["account_no"], "case_no": case, "amount": fmt(value),
            "payee": payee, "purpose": purpose, "purpose_cn": PURPOSES[purpose], "balance": p["balance"],
            "paid_at": stamp(ctx.now)}


@handler("ledger.balance", system="ledger", optional=("case_no",))
def ledger_balance(ctx: HandlerContext, case_no: str | None = None) -> dict:
    """The case account's balance and totals; ``payout_due``/``overdue`` tell whether the oldest unpaid money
    has waited past the 30-day payout period."""
    case = case_number(ctx, case_no)
    with use("ledger") as ledger:
        b = ledger.balance(ctx, case)
    due = _due(b["oldest_unpaid_on"])
    return {"account_no": b["account_no"], "case_no": case, "balance": b["balance"], "received": b["received"],
            "paid_out": b["paid_out"], "receipts": b["receipts"], "payouts": b["payouts"],
            "empty": b["balance"] == "0.00", "payout_due": due,
            "overdue": due is not None and today(ctx.now).isoformat() > due}
