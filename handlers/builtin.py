"""Built-in handlers available to every diagram. The enforcement handlers (asset search, freezes, sanctions,
documents, money) live in their own modules and register the same way."""
from __future__ import annotations

import hashlib

from handlers.base import BusinessRejection, HandlerContext
from handlers.registry import handler

CHANNELS = ("sms", "mail", "post", "portal")


@handler("notify.send", inputs=("recipient", "message"), optional=("channel",))
def notify_send(ctx: HandlerContext, recipient: str, message: str, channel: str = "sms") -> dict:
    """Send a notification to a party (sandbox: records it and returns a stable reference per idempotency key)."""
    if not str(recipient).strip():
        raise BusinessRejection("recipient is empty", {"field": "recipient"})
    if channel not in CHANNELS:
        raise BusinessRejection(f"unknown channel '{channel}'", {"field": "channel", "allowed": list(CHANNELS)})
    reference = hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:12]
    return {"delivered": True, "channel": channel, "reference": reference, "at": ctx.now.isoformat()}
