"""``party.notify``: serve a notice or a generated document on a party (送达). Unlike the built-in
``notify.send`` (a plain message), it knows the party's role, the service method and the document, and tells
when service counts as done, which starts the party's legal periods."""
from __future__ import annotations

from datetime import timedelta

from handlers.base import HandlerContext
from handlers.config import use
from handlers.delivery.adapter import CHANNELS, ROLES
from handlers.party_id import parse_party_id
from handlers.registry import Produces, handler
from handlers.timeutil import local, stamp
from handlers.validate import choice, integer, optional_text, reject, text

PUBLICATION_DAYS = 30            # CPL 2023 Art 95: service by publication counts after 30 days [M: check]


@handler("party.notify", system="delivery", inputs=("party_name", "role"),
         optional=("party_id", "channel", "message", "document", "publication_days"), records=(
             Produces("service", {"delivery_id": "delivery_id", "document": "document", "recipient": "party_name",
                                  "role": "role", "method": "channel", "sent_at": "sent_at",
                                  "served_at": "served_at", "delivered": "delivered"}),))
def party_notify(ctx: HandlerContext, party_name: str, role: str, party_id: str | None = None,
                 channel: str = "electronic", message: str | None = None, document: str | None = None,
                 publication_days: object = None) -> dict:
    """Serve ``message`` and/or ``document`` (a path returned by ``document.generate``) on a party.
    ``served_at`` is when service took effect: at once, or after ``publication_days`` for publication
    (公告送达; 30 by default, 15 for a price report on the disclosure site, J10 Art 21)."""
    name = text("party_name", party_name, max_len=100)
    role = choice("role", role, ROLES)
    pid = None if party_id in (None, "") else parse_party_id("party_id", party_id).value
    channel = choice("channel", channel, CHANNELS)
    message = optional_text("message", message, max_len=2000)
    document = optional_text("document", document, max_len=300)
    if message is None and document is None:
        reject("message", "give a message or a document to serve")
    if document and (document.startswith("/") or ".." in document.split("/")):
        reject("document", "document must be the relative path returned by document.generate", value=document)
    if publication_days is not None and channel != "publication":
        reject("publication_days", "publication_days applies only to channel 'publication'")
    days = PUBLICATION_DAYS if publication_days is None else integer("publication_days", publication_days, 1, 90)
    with use("delivery") as system:
        d = system.deliver(ctx, pid, name, role, channel, message, document)
    served = None
    if d["delivered"]:
        served = local(ctx.now) + (timedelta(days=days) if channel == "publication" else timedelta())
    return {"delivery_id": d["delivery_id"], "party_name": name, "role": role, "role_cn": ROLES[role],
            "channel": channel, "channel_cn": CHANNELS[channel], "document": document, "delivered": d["delivered"],
            "failure": d["failure"], "sent_at": stamp(ctx.now), "served_at": stamp(served) if served else None}
