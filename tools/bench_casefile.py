"""Server time of the case page of a case with 1,000 case-file records: ``python -m tools.bench_casefile
[--records N] [--runs N] [--database URL]``.

A throw-away SQLite file (or a fresh database on the PostgreSQL server given) gets the real procedures and one
终本 case (bpmn/no_asset_exit.bpmn, run by the engine) that starts with ``--records`` records of every kind the
case page shows (searches, assets, measures, renewals, receipts, payouts, documents, service, clues); the page
(``/cases/<no>``) and the case API (``/api/v1/cases/<no>``) are then requested with the Flask test client and
their p50 and p95 printed against the 100 ms target (docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from werkzeug.security import generate_password_hash

from tools.bench_pages import PASSWORD, TARGET_MS, USER, measure

COURT = "川0104"
CASE_NO = "（2026）川0104执1号"


def records(n: int) -> list[dict]:
    """``n`` records in the proportions of a long case: searches with their assets, measures and renewals on
    them, money in and out, documents and their service, clues and their checks."""
    out: list[dict] = []
    i = 0
    while len(out) < n:
        i += 1
        day = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"
        at = f"{day}T10:00:00+08:00"
        out += [
            {"kind": "asset_search", "body": {"search_id": f"Q{i}", "channel": "national" if i % 2 else "local",
                                              "categories": ["deposit", "vehicle"], "complete": True,
                                              "searched_at": at, "found": 2}},
            {"kind": "asset", "body": {"asset_id": f"A{i}", "search_id": f"Q{i}", "category": "deposit",
                                       "category_cn": "存款", "description": f"活期存款 {i}", "value": "1000.00",
                                       "holder": "工商银行", "encumbrances": []}},
            {"kind": "measure", "body": {"measure_id": f"M{i}", "asset_id": f"A{i}", "measure": "freeze",
                                         "status": "in_force", "rank": 1, "amount": "1000.00", "starts_on": day,
                                         "expires_on": "2027-01-01"}},
            {"kind": "measure_renewal", "body": {"measure_id": f"M{i}", "expires_on": "2028-01-01", "renewals": 1}},
            {"kind": "receipt", "body": {"receipt_id": f"R{i}", "amount": "1000.00", "payer": "被执行人",
                                         "source": "transfer", "received_at": at}},
            {"kind": "payout", "body": {"payout_id": f"P{i}", "amount": "900.00", "payee": "申请执行人",
                                        "purpose": "applicant", "paid_at": at}},
            {"kind": "document", "body": {"path": f"{CASE_NO}/notice-{i}.docx", "doc_type": "enforcement_notice",
                                          "title": "执行通知书", "sha256": f"{i:064x}", "generated_at": at}},
            {"kind": "service", "body": {"delivery_id": f"D{i}", "document": f"{CASE_NO}/notice-{i}.docx",
                                         "recipient": "陈大明", "role": "debtor", "method": "electronic",
                                         "sent_at": at, "served_at": at, "delivered": True}},
            {"kind": "clue", "body": {"clue_id": f"clue-{i}", "source": "applicant", "description": f"线索 {i}"}},
            {"kind": "clue_verification", "body": {"clue_id": f"clue-{i}", "result": "nothing"}},
        ]
    return out[:n]


def main(argv=None) -> int:
    from engine import Engine
    from engine.court.roles import ROLES
    from tools.bench_scale import fresh_database

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database", help="a PostgreSQL server URL (a fresh database is made there)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zhixing-bench-casefile-") as tmp:
        os.environ.setdefault("ZHIXING_SANDBOX_DIR", str(Path(tmp) / "sandbox"))
        os.environ.setdefault("ZHIXING_DOCUMENT_DIR", str(Path(tmp) / "documents"))
        url = fresh_database(args.database, "zhixing_bench_casefile") if args.database \
            else f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = Engine(url)
        engine.init_schema()
        engine.deploy(["bpmn"], actor="bench")
        engine.add_user(USER, "基准 用户", [(COURT, role) for role in ROLES],
                        password_hash=generate_password_hash(PASSWORD))
        started = time.perf_counter()
        engine.start("no_asset_exit", CASE_NO, COURT, {
            "debtor_id": "510107198511203317", "debtor_name": "陈大明", "filed_on": "2026-01-05",
            "applicant_name": "某银行", "basis": "（2025）川0104民初1号", "amount": "50000.00", "recovered": "0.00",
            "blacklist_ground": None}, actor=USER, records=records(args.records))
        engine.run_until_idle()
        print(f"case {CASE_NO} with {args.records} records started in {time.perf_counter() - started:.1f} s "
              f"({'PostgreSQL' if args.database else 'SQLite'})")
        from tools.bench_pages import Sample, _client
        client = _client(engine, Sample(**{f: None for f in Sample.__dataclass_fields__} | {"case_no": CASE_NO}))
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        failed = 0
        for name, path in (("case page", f"/cases/{quote(CASE_NO)}"), ("case API", f"/api/v1/cases/{quote(CASE_NO)}")):
            p50, p95, status = measure(client, path, args.runs)
            verdict = "ok" if p95 <= TARGET_MS and status == 200 else "FAIL"
            failed += verdict != "ok"
            note = "" if status == 200 else f" HTTP {status}"
            print(f"{name:<12} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  {verdict}{note}")
        engine.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
