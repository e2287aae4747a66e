"""The case file (案卷): the typed kinds of record a case holds, and the case header's typed columns.

One row per case in ``cases`` (court, case number, parties, basis, amount, owner, stage, status, term) and an
append-only list of ``case_records``: each has a ``kind`` from ``KINDS`` below and a JSON ``body`` that must
satisfy that kind's schema (checked by ``check_body`` before anything is written), plus its provenance (the
instance, the task or job, the event of the execution log, who) and its time.

Why one records table with a JSON body rather than a table per kind: the kinds are many (18) and small, every
reader wants "the case's records, in order" (the case page, the conditions of a diagram, the 终本 check at a
date), and a new kind is then a declaration here, not a migration. The body is still typed: ``KINDS`` is the
only place a kind is defined, each with a closed JSON Schema (``additionalProperties: false``), and nothing
writes a record that does not pass it. Money is text with two decimals (``"86000.00"``), dates are court dates
(``"2026-03-02"``), moments ISO text with their zone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import jsonschema

MONEY = {"type": "string", "pattern": r"^-?\d{1,13}(\.\d{1,2})?$"}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
MOMENT = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+([+-]\d{2}:?\d{2}|Z)?)?$"}
TEXT = {"type": "string", "maxLength": 2000}
ID = {"type": "string", "minLength": 1, "maxLength": 128}
OPT_DATE = {"type": ["string", "null"], "pattern": r"^\d{4}-\d{2}-\d{2}$"}


@dataclass(frozen=True)
class Kind:
    name: str
    cn: str                         # the Chinese term
    properties: dict
    required: tuple = ()
    key: str | None = None          # the body field that names the thing (asset_id, measure_id, ...)

    @property
    def schema(self) -> dict:
        return {"type": "object", "properties": self.properties, "required": list(self.required),
                "additionalProperties": False}


def _k(name, cn, properties, required=(), key=None) -> Kind:
    return Kind(name, cn, properties, tuple(required), key)


CHANNELS = ("national", "local", "field")          # 总对总 / 点对点 / 现场调查
UNDISPOSABLE_REASONS = {                            # N2 Art 4 and practice: why a found asset cannot be disposed of
    "queued_behind_other_court": "轮候查封，首封法院处置",
    "auctions_failed_in_lieu_declined": "拍卖、变卖不成且申请执行人拒绝以物抵债",
    "paper_seizure_not_impounded": "车辆、船舶仅查封登记未实际扣押",
    "no_market_value": "无市场价值、无法变价",
}

KINDS: dict[str, Kind] = {k.name: k for k in (
    _k("party", "当事人", {"role": {"enum": ["applicant", "debtor", "third_party", "agent"]}, "name": TEXT,
                        "id_no": {"type": ["string", "null"], "maxLength": 32},
                        "party_kind": {"enum": ["person", "enterprise", None]}}, ("role", "name")),
    _k("clue", "财产线索", {"clue_id": ID, "source": {"enum": ["applicant", "officer", "other"]},
                       "description": TEXT, "reported_on": DATE}, ("clue_id", "source", "description"), "clue_id"),
    _k("clue_verification", "线索核实", {"clue_id": ID, "result": {"enum": ["found", "nothing", "unverifiable"]},
                                     "note": TEXT, "asset_id": {"type": ["string", "null"]}},
       ("clue_id", "result"), "clue_id"),
    _k("asset_search", "财产查询", {"search_id": ID, "channel": {"enum": list(CHANNELS)}, "categories":
                                {"type": "array", "items": {"type": "string"}}, "complete": {"type": "boolean"},
                                "searched_at": MOMENT, "found": {"type": "integer", "minimum": 0}},
       ("search_id", "channel", "categories", "complete", "searched_at"), "search_id"),
    _k("asset", "财产", {"asset_id": ID, "search_id": {"type": ["string", "null"]}, "category": ID,
                       "category_cn": TEXT, "description": TEXT, "holder": TEXT, "value": MONEY,
                       "encumbrances": {"type": "array"}}, ("asset_id", "category"), "asset_id"),
    _k("measure", "控制措施", {"measure_id": ID, "asset_id": ID, "measure": {"enum": ["freeze", "seize", "impound"]},
                           "status": {"enum": ["in_force", "queued"]}, "rank": {"type": ["integer", "null"]},
                           "amount": {"type": ["string", "null"]}, "starts_on": OPT_DATE, "expires_on": OPT_DATE,
                           "ruling": {"type": ["string", "null"]}}, ("measure_id", "asset_id", "measure", "status"),
       "measure_id"),
    _k("measure_renewal", "续行", {"measure_id": ID, "expires_on": DATE, "previous_expires_on": OPT_DATE,
                                 "renewals": {"type": "integer"}}, ("measure_id", "expires_on"), "measure_id"),
    _k("measure_release", "解除措施", {"measure_id": ID, "released_on": DATE, "reason": ID,
                                   "promoted": {"type": ["string", "null"]}}, ("measure_id", "released_on"),
       "measure_id"),
    _k("service", "送达", {"delivery_id": ID, "document": {"type": ["string", "null"]},
                         "doc_type": {"type": ["string", "null"]}, "recipient": TEXT, "role": ID, "method": ID,
                         "sent_at": MOMENT, "served_at": {"type": ["string", "null"]},
                         "delivered": {"type": "boolean"}},
       ("delivery_id", "recipient", "method", "sent_at", "delivered"), "delivery_id"),
    _k("receipt", "案款到账", {"receipt_id": ID, "amount": MONEY, "payer": TEXT, "source": ID, "received_at": MOMENT},
       ("receipt_id", "amount", "received_at"), "receipt_id"),
    _k("payout", "案款发放", {"payout_id": ID, "amount": MONEY, "payee": TEXT, "purpose": ID, "paid_at": MOMENT},
       ("payout_id", "amount", "paid_at"), "payout_id"),
    _k("document", "法律文书", {"path": {"type": "string", "pattern": r"^[^/\\.][^\\]*$", "maxLength": 300},
                            "doc_type": ID, "title": TEXT, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                            "size": {"type": "integer"}, "generated_at": MOMENT},
       ("path", "doc_type", "sha256", "generated_at"), "path"),
    _k("decision", "决定/裁定", {"decision": ID, "on": DATE, "decided_by": ID,
                             "signed_by": {"type": ["string", "null"]},
                             "outcome": {"type": ["string", "boolean", "null"]}, "note": TEXT},
       ("decision", "on", "decided_by")),
    _k("sanction", "惩戒措施", {"sanction_id": ID, "sanction": {"enum": ["consumption_restriction", "blacklist"]},
                            "ground": {"type": ["integer", "string", "null"]},
                            "term_years": {"type": ["integer", "null"]},
                            "effective_on": DATE, "expires_on": OPT_DATE}, ("sanction_id", "sanction", "effective_on"),
       "sanction_id"),
    _k("sanction_deletion", "解除/删除惩戒", {"sanction_id": ID, "on": DATE, "reason": ID}, ("sanction_id", "on"),
       "sanction_id"),
    _k("stay", "中止/暂缓", {"stay": {"enum": ["suspension", "stay", "resumption"]}, "on": DATE, "until": OPT_DATE,
                         "reason": TEXT}, ("stay", "on")),
    _k("relation", "关联案件", {"case_no": ID, "relation": {"enum": ["parent", "child", "restored_from", "review_of"]},
                            "court": {"type": ["string", "null"]}}, ("case_no", "relation")),
    _k("undisposable", "无法处置", {"asset_id": ID, "reason": {"enum": list(UNDISPOSABLE_REASONS)}, "detail": TEXT},
       ("asset_id", "reason"), "asset_id"),
    _k("whereabouts", "下落查找", {"debtor_missing": {"type": "boolean"}, "searched": {"type": "boolean"},
                               "method": TEXT, "on": DATE}),
    _k("interview", "终本约谈", {"on": DATE, "view": TEXT, "confirms": {"type": "boolean"}}, ("on",)),
)}

_VALIDATORS = {name: jsonschema.Draft202012Validator(kind.schema) for name, kind in KINDS.items()}


class RecordInvalid(ValueError):
    """A record body does not satisfy its kind; ``field`` names the first offending field."""

    def __init__(self, kind: str, field: str, message: str):
        super().__init__(f"{kind}: {field}: {message}")
        self.kind, self.field = kind, field


def check_body(kind: str, body: dict) -> dict:
    """The body, checked against its kind (raises ``RecordInvalid``); money numbers become text with 2 decimals."""
    if kind not in KINDS:
        raise RecordInvalid(kind, "kind", f"unknown kind of record (known: {', '.join(sorted(KINDS))})")
    if not isinstance(body, dict):
        raise RecordInvalid(kind, "(body)", "a record is an object")
    body = {k: v for k, v in body.items()}
    for name, spec in KINDS[kind].properties.items():
        if spec is MONEY and isinstance(body.get(name), (int, float)) and not isinstance(body[name], bool):
            body[name] = money_text(body[name])
    for error in _VALIDATORS[kind].iter_errors(body):
        path = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            path = error.message.split("'")[1] if "'" in error.message else path
        elif error.validator == "additionalProperties":
            path = error.message.split("'")[1] if "'" in error.message else path
        raise RecordInvalid(kind, path or "(body)", error.message)
    return body


def clue_key(description: str) -> str:
    """A clue's id from its text: the same clue typed twice is one clue."""
    import hashlib
    return "clue-" + hashlib.sha256(" ".join(str(description).split()).encode()).hexdigest()[:10]


def money_text(value) -> str:
    try:
        return f"{Decimal(str(value)):.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def money(value) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return Decimal(0)


# -- the case header: what a case row holds, typed -------------------------------------------------------------
HEADER_TEXT = ("applicant_name", "applicant_id", "debtor_name", "debtor_id", "debtor_kind", "basis", "owner",
               "track")
HEADER_MONEY = ("amount",)
HEADER_DATES = ("filed_on", "term_due_on", "closed_on")
HEADER = HEADER_TEXT + HEADER_MONEY + HEADER_DATES + ("closing_mode",)
ALIASES = {"applicant": "applicant_name", "debtor": "debtor_name", "debtor_type": "debtor_kind"}


def header_values(values: dict) -> dict:
    """The case header columns that ``values`` sets with a value of the right type; others are left out (a term
    date "+1-1" is not a date, and never reaches the row the metrics read)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = ALIASES.get(key, key)
        if key not in HEADER or value is None or value == "":
            continue
        if key in HEADER_DATES:
            try:
                out[key] = date.fromisoformat(str(value)[:10])
            except ValueError:
                continue
        elif key in HEADER_MONEY:
            if money(value) or str(value).strip() in ("0", "0.00"):
                out[key] = money_text(value)
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out[key] = str(value)[:255]
    return out
