"""``document.generate``: fill a court-document template (执行通知书, 报告财产令, 限制消费令, 终本裁定书,
结案通知书, 成交确认/以物抵债裁定书) and write the .docx under ``ZHIXING_DOCUMENT_DIR`` (default
``var/documents/``).

The result is small (path, type, sha256), never the bytes. The file name comes from the idempotency key and the
rendering is reproducible, so a re-run writes the same file with the same hash."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from handlers.base import HandlerContext
from handlers.credit.adapter import RESTRICTIONS
from handlers.documents.catalogue import CLOSING_MODES, DEFAULTS, DISPOSALS, DOC_TYPES, template_path
from handlers.documents.render import render, write_atomically
from handlers.errors import map_errors
from handlers.money import fmt_cn, parse_amount
from handlers.party_id import parse_party_id
from handlers.registry import Produces, handler
from handlers.timeutil import cn_date, stamp, today
from handlers.validate import case_no as case_number
from handlers.validate import choice, fields_map, integer, optional_text, reject, text

ID_LABELS = {"person": "公民身份号码", "entity": "统一社会信用代码"}
PARAMS = ("case_no", "court_name", "applicant_name", "debtor_id", "amount", "basis")


def document_dir() -> Path:
    return Path(os.environ.get("ZHIXING_DOCUMENT_DIR") or "var/documents")


@handler("document.generate", inputs=("doc_type", "debtor_name"),
         optional=("case_no", "court_name", "applicant_name", "debtor_id", "amount", "basis", "fields"), records=(
             Produces("document", {"path": "path", "doc_type": "doc_type", "title": "title", "sha256": "sha256",
                                   "size": "size", "generated_at": "generated_at"}),))
def document_generate(ctx: HandlerContext, doc_type: str, debtor_name: str, case_no: str | None = None,
                      court_name: str | None = None, applicant_name: str | None = None, debtor_id: str | None = None,
                      amount: object = None, basis: str | None = None, fields: dict | None = None) -> dict:
    """Generate a court document (文书) as .docx. ``basis`` is the title being enforced (执行依据); ``fields``
    fills the rest (deadline_days, closing_mode, recovered, measures_taken, legal_representative, ...)."""
    doc_type = choice("doc_type", doc_type, DOC_TYPES)
    title, name, required = DOC_TYPES[doc_type]
    case = case_number(ctx, case_no)
    given = {"debtor_name": text("debtor_name", debtor_name, max_len=100),
             "court_name": optional_text("court_name", court_name, max_len=100),
             "applicant_name": optional_text("applicant_name", applicant_name, max_len=100),
             "basis": optional_text("basis", basis, max_len=300)}
    context = {**DEFAULTS, **fields_map("fields", fields), **{k: v for k, v in given.items() if v is not None}}
    context.update(title=title, case_no=case, issued_on=cn_date(today(ctx.now)), debtor_id="", id_label="")
    if debtor_id not in (None, ""):
        party = parse_party_id("debtor_id", debtor_id)
        context.update(debtor_id=party.value, id_label=ID_LABELS[party.kind])
    for key in required:
        if key != "amount" and not context.get(key):
            reject(key if key in PARAMS else f"fields.{key}", f"a {name} needs {key}", doc_type=doc_type)
    _money_fields(context, amount, required)
    for key in ("deadline_days", "report_days"):
        context[key] = integer(f"fields.{key}", context[key], 1, 60)
    if doc_type == "closing_notice":
        mode = choice("fields.closing_mode", context["closing_mode"], CLOSING_MODES)
        context["closing_mode_cn"] = CLOSING_MODES[mode]
    if doc_type == "transfer_ruling":
        choice("fields.disposal", context["disposal"], DISPOSALS)
    context["restrictions"] = list(RESTRICTIONS)
    data = render(template_path(doc_type), context)
    key = hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:12]
    relative = Path(re.sub(r"\W+", "_", case).strip("_") or "case") / f"{doc_type}-{key}.docx"
    with map_errors("documents"):                     # a full or read-only disk: retry later
        write_atomically(document_dir() / relative, data)
    return {"path": relative.as_posix(), "doc_type": doc_type, "title": name, "case_no": case,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "generated_at": stamp(ctx.now)}


def _money_fields(context: dict, amount: object, required: tuple[str, ...]) -> None:
    """Format the amounts for print; the 终本 ruling's unpaid sum is the claim less what was recovered."""
    if amount is None and "amount" in required:
        reject("amount", "this document needs amount (the sum to enforce, in yuan)")
    claim = None if amount is None else parse_amount("amount", amount)
    recovered = parse_amount("fields.recovered", context["recovered"], allow_zero=True)
    if claim is not None and recovered > claim:
        reject("fields.recovered", "recovered is more than the amount to enforce", amount=str(claim))
    context["amount"] = fmt_cn(claim) if claim is not None else ""
    context["recovered"] = fmt_cn(recovered)
    context["unpaid"] = fmt_cn(claim - recovered) if claim is not None else ""
