"""Interface to the service platform (送达平台): delivering notices and court documents to the parties
(送达) by electronic service, SMS, post, in person, or publication (公告送达), with a receipt (送达回证)."""
from __future__ import annotations

from typing import Protocol

from handlers.base import HandlerContext

CHANNELS = {"electronic": "电子送达", "sms": "短信", "post": "邮寄送达", "in_person": "直接送达",
            "publication": "公告送达"}
ROLES = {"applicant": "申请执行人", "debtor": "被执行人", "third_party": "案外人", "agent": "代理人",
         "assisting_unit": "协助执行单位"}


class DeliverySystem(Protocol):
    def deliver(self, ctx: HandlerContext, party_id: str | None, name: str, role: str, channel: str,
                message: str | None, document: str | None) -> dict:
        """``{"delivery_id", "delivered": bool, "failure": str | None}``. A party who cannot be reached is an
        answer (``delivered`` False), not an error: the diagram then tries another channel or publication."""
