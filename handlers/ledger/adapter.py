"""Interface to the case-money system (执行款管理): one account per case (一案一账号) that records money arriving
(到账) and money paid out (发放). Its one invariant is the system's to keep, atomically: a payout larger than
the balance is refused, so a balance is never negative."""
from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from handlers.base import HandlerContext

SOURCES = {"transfer": "扣划存款", "voluntary": "被执行人主动履行", "auction": "拍卖/变卖价款", "other": "其他"}
PURPOSES = {"applicant": "发放申请执行人", "costs": "执行费用", "creditor": "参与分配债权人", "refund": "退还被执行人"}
PAYOUT_DAYS = 30                   # N4: pay out within 30 days of arrival [V local rule]


class CaseLedger(Protocol):
    def receive(self, ctx: HandlerContext, case_no: str, amount: Decimal, payer: str, source: str,
                reference: str | None) -> dict:
        """Record money arriving (opening the case account on first use): ``{"account_no", "receipt_id",
        "balance"}``."""

    def payout(self, ctx: HandlerContext, case_no: str, amount: Decimal, payee: str, purpose: str,
               payee_account: str | None) -> dict:
        """Pay out of the case account: ``{"account_no", "payout_id", "balance"}``; refuses more than the balance."""

    def balance(self, ctx: HandlerContext, case_no: str) -> dict:
        """``{"account_no", "balance", "received", "paid_out", "receipts", "payouts", "oldest_unpaid_on"}``
        (the arrival date of the oldest money not yet paid out, first in first out; None when all is paid)."""
