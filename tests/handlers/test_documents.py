"""document.generate: .docx from the committed templates, reproducible, readable by python-docx."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import docx
import pytest

from handlers.documents.catalogue import DOC_TYPES, template_path
from handlers.documents.make_templates import build
from handlers.documents.render import normalize

from handler_testdata import CASE, CHEN, RONGHUI, WANG

BASIS = "（2025）川0104民初456号民事判决书"
APPLICANT = "成都某银行股份有限公司"
EXTRA = {
    "enforcement_notice": {"amount": "86000"},
    "asset_report_order": {},
    "restriction_order": {"debtor_id": RONGHUI[0], "fields": {"legal_representative": "李敏"}},
    "final_ruling": {"amount": "86000", "debtor_id": CHEN[0], "fields": {"recovered": "1200", "blacklisted": True}},
    "closing_notice": {"fields": {"closing_mode": "fully_performed", "recovered": 86000}},
    "transfer_ruling": {"fields": {"disposal": "auction", "asset_description": "成都市锦江区东大街住宅",
                                   "buyer": "张三", "price": "960,000.00"}},
}


def generate(call, doc_type, debtor=WANG, **kw):
    params = {"applicant_name": APPLICANT, "basis": BASIS, **EXTRA[doc_type], **kw}
    return call("document.generate", doc_type=doc_type, debtor_name=debtor[1], **params)


def text_of(result) -> str:
    path = Path(os.environ["ZHIXING_DOCUMENT_DIR"]) / result["path"]
    return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)


@pytest.mark.parametrize("doc_type", list(DOC_TYPES))
def test_each_document_opens_and_names_the_case_and_debtor(call, doc_type):
    r = generate(call, doc_type)
    assert r["doc_type"] == doc_type and r["title"] == DOC_TYPES[doc_type][1] and r["case_no"] == CASE
    assert not Path(r["path"]).is_absolute() and r["path"].endswith(".docx")
    body = text_of(r)
    assert CASE in body and WANG[1] in body and DOC_TYPES[doc_type][0] in body and "二〇二六年三月二日" in body
    data = (Path(os.environ["ZHIXING_DOCUMENT_DIR"]) / r["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == r["sha256"] and len(data) == r["size"]
    assert "{{" not in body and "{%" not in body


def test_document_contents(call):
    assert "支付86,000.00元" in text_of(generate(call, "enforcement_notice"))
    body = text_of(generate(call, "final_ruling", debtor=CHEN))
    assert "尚有84,800.00元未履行" in body and "公民身份号码：510107198511203317" in body and "纳入失信被执行人名单" in body
    body = text_of(generate(call, "restriction_order", debtor=RONGHUI))
    assert "法定代表人：李敏" in body and "统一社会信用代码" in body and "（9）乘坐G字头" in body
    assert "执行完毕" in text_of(generate(call, "closing_notice"))
    assert "5日内" in text_of(generate(call, "asset_report_order"))
    body = text_of(generate(call, "transfer_ruling"))
    assert "买受人张三以960,000.00元竞得" in body and "送达买受人张三时起转移" in body
    in_lieu = {"disposal": "in_lieu", "asset_description": "川A·8K2J3", "buyer": APPLICANT, "price": "105,000.00"}
    body = text_of(generate(call, "transfer_ruling", fields=in_lieu))
    assert "作价105,000.00元抵偿" in body and "承受人" in body and "第十六条" in body


def test_names_are_escaped_not_interpreted(call):
    r = generate(call, "asset_report_order", debtor=("", "A&B <公司> {{ x }}"))
    assert "A&B <公司> {{ x }}" in text_of(r)


def test_same_key_same_file_and_hash(call):
    first = generate(call, "enforcement_notice", key="k")
    assert generate(call, "enforcement_notice", key="k") == first
    other = generate(call, "enforcement_notice", key="k2")
    assert other["path"] != first["path"] and other["sha256"] == first["sha256"]      # reproducible rendering


@pytest.mark.parametrize("doc_type, params, field", [
    ("enforcement_notice", {"amount": None}, "amount"),
    ("enforcement_notice", {"applicant_name": None}, "applicant_name"),
    ("enforcement_notice", {"basis": "  "}, "basis"),
    ("restriction_order", {"debtor_id": None}, "debtor_id"),
    ("restriction_order", {"debtor_id": "510104197803150015"}, "debtor_id"),
    ("closing_notice", {"fields": {}}, "fields.closing_mode"),
    ("closing_notice", {"fields": {"closing_mode": "happy"}}, "fields.closing_mode"),
    ("final_ruling", {"fields": {"recovered": "90000"}}, "fields.recovered"),
    ("transfer_ruling", {"fields": {"disposal": "gift", "asset_description": "x", "buyer": "y", "price": "1"}},
     "fields.disposal"),
    ("transfer_ruling", {"fields": {"disposal": "sale", "asset_description": "x", "price": "1"}}, "fields.buyer"),
    ("final_ruling", {"fields": {"recovered": "-1"}}, "fields.recovered"),
    ("asset_report_order", {"fields": {"report_days": 0}}, "fields.report_days"),
    ("asset_report_order", {"fields": {"Bad-Key": 1}}, "fields.Bad-Key"),
    ("asset_report_order", {"fields": {"x": {"nested": 1}}}, "fields.x"),
    ("asset_report_order", {"fields": "text"}, "fields"),
])
def test_rejections(call, doc_type, params, field):
    base = {"applicant_name": APPLICANT, "basis": BASIS, **EXTRA[doc_type]}
    merged = {k: v for k, v in {**base, **params}.items() if v is not None}
    assert call.field("document.generate", doc_type=doc_type, debtor_name=WANG[1], **merged) == field


def test_unknown_type_and_missing_case_number(call):
    assert call.field("document.generate", doc_type="letter", debtor_name="x") == "doc_type"
    assert call.field("document.generate", doc_type="asset_report_order", debtor_name="x", basis=BASIS,
                        applicant_name=APPLICANT, ctx_case=None) == "case_no"


@pytest.mark.parametrize("doc_type", list(DOC_TYPES))
def test_committed_templates_match_make_templates(doc_type):
    buffer = io.BytesIO()
    build(doc_type).save(buffer)
    assert normalize(buffer.getvalue()) == template_path(doc_type).read_bytes(), \
        "templates are stale: run python -m handlers.documents.make_templates"
