"""The court documents zhixing generates (文书), their template files and the fields each one needs.

Shared by ``make_templates.py`` (which writes the .docx templates) and the ``document.generate`` handler (which
checks the fields before rendering)."""
from __future__ import annotations

from pathlib import Path

TEMPLATE_DIR = Path(__file__).parent / "templates"

DOC_TYPES = {   # code -> (template title, name of the document, fields that must be given)
    "enforcement_notice": ("执行通知书", "执行通知书", ("applicant_name", "basis", "amount")),
    "asset_report_order": ("报告财产令", "报告财产令", ("applicant_name", "basis")),
    "restriction_order": ("限制消费令", "限制消费令", ("applicant_name", "basis", "debtor_id")),
    "final_ruling": ("执行裁定书", "终结本次执行程序裁定书", ("applicant_name", "basis", "amount")),
    "closing_notice": ("结案通知书", "结案通知书", ("applicant_name", "basis", "closing_mode")),
    "transfer_ruling": ("执行裁定书", "成交确认 / 以物抵债裁定书",
                        ("applicant_name", "disposal", "asset_description", "buyer", "price")),
}
CLOSING_MODES = {   # J1 item 64: the six ways an enforcement case closes
    "fully_performed": "执行完毕", "final_closure": "终结本次执行程序", "terminated": "终结执行",
    "cancelled": "销案", "refused": "不予执行", "rejected": "驳回申请",
}
DISPOSALS = {      # how a transfer ruling's asset was realised (J8 Arts 16, 20; J9 Art 26)
    "auction": "拍卖成交", "sale": "变卖成交", "in_lieu": "以物抵债",
}
DEFAULTS = {        # fields a template uses when the diagram does not give them [P: common court practice]
    "court_name": "××××人民法院",
    "deadline_days": 3,
    "report_days": 5,
    "measures_taken": "通过网络执行查控系统查询被执行人的存款、车辆、不动产、证券、股权、网络资金、保险等财产，"
                      "向不动产登记、住房公积金等部门查询，并到被执行人住所地进行调查",
    "assets_found": "未发现被执行人有可供执行的财产",
    "recovered": "0.00",
    "blacklisted": False,
    "legal_representative": "",
}


def template_path(doc_type: str) -> Path:
    return TEMPLATE_DIR / f"{doc_type}.docx"
