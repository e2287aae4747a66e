"""Deterministic case-money ledger: one JSON account per case number in the sandbox store. Receipts and payouts
are checked and booked in the same exclusive transaction as the idempotency record, so a retried payout is not
paid twice and two concurrent payouts cannot overdraw the account."""
from __future__ import annotations

import hashlib
from decimal import Decimal

from handlers.base import HandlerContext
from handlers.money import fmt
from handlers.sandbox_store import Records, SandboxStore
from handlers.timeutil import today
from handlers.validate import reject


def account_no(case_no: str) -> str:
    """A stable account number per case (一案一账号)."""
    return "ZXK" + str(int(hashlib.sha256(case_no.encode()).hexdigest()[:12], 16) % 10**12).zfill(12)


def _entry_id(prefix: str, ctx: HandlerContext) -> str:
    return prefix + hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:12].upper()


class SandboxLedger:
    local = True      # in-process: safe to call inside the engine's transaction

    def __init__(self) -> None:
        self.store = SandboxStore("ledger")

    def receive(self, ctx, case_no, amount: Decimal, payer, source, reference) -> dict:
        def act(rec: Records) -> dict:
            acc = self._account(rec, case_no)
            entry = {"receipt_id": _entry_id("DZ", ctx), "amount": fmt(amount), "payer": payer, "source": source,
                     "reference": reference, "on": today(ctx.now).isoformat()}
            acc["receipts"].append(entry)
            rec.put("account", case_no, acc)
            return {**self._summary(acc), "receipt_id": entry["receipt_id"]}
        params = {"case": case_no, "amount": amount, "payer": payer, "source": source, "reference": reference}
        return self.store.once(ctx, "receive", params, act)

    def payout(self, ctx, case_no, amount: Decimal, payee, purpose, payee_account) -> dict:
        def act(rec: Records) -> dict:
            acc = self._account(rec, case_no)
            balance = Decimal(self._summary(acc)["balance"])
            if amount > balance:
                reject("amount", f"payout {fmt(amount)} exceeds the balance {fmt(balance)} of account "
                       f"{acc['account_no']}", balance=fmt(balance), requested=fmt(amount),
                       account_no=acc["account_no"])
            entry = {"payout_id": _entry_id("FF", ctx), "amount": fmt(amount), "payee": payee, "purpose": purpose,
                     "payee_account": payee_account, "on": today(ctx.now).isoformat()}
            acc["payouts"].append(entry)
            rec.put("account", case_no, acc)
            return {**self._summary(acc), "payout_id": entry["payout_id"]}
        params = {"case": case_no, "amount": amount, "payee": payee, "purpose": purpose, "to": payee_account}
        return self.store.once(ctx, "payout", params, act)

    def balance(self, ctx: HandlerContext, case_no: str) -> dict:
        return self.store.read(lambda rec: self._summary(self._account(rec, case_no)), ctx)

    @staticmethod
    def _account(rec: Records, case_no: str) -> dict:
        return rec.get("account", case_no) or {"account_no": account_no(case_no), "case_no": case_no,
                                               "receipts": [], "payouts": []}

    @staticmethod
    def _summary(acc: dict) -> dict:
        received = sum((Decimal(r["amount"]) for r in acc["receipts"]), Decimal(0))
        paid = sum((Decimal(p["amount"]) for p in acc["payouts"]), Decimal(0))
        oldest, covered = None, paid
        for r in acc["receipts"]:          # first in, first out: payouts settle the oldest money first
            covered -= Decimal(r["amount"])
            if covered < 0:
                oldest = r["on"]
                break
        return {"account_no": acc["account_no"], "balance": fmt(received - paid), "received": fmt(received),
                "paid_out": fmt(paid), "receipts": len(acc["receipts"]), "payouts": len(acc["payouts"]),
                "oldest_unpaid_on": oldest}
