"""Who the token acts as, and what it may do where."""
from __future__ import annotations

from flask import g

from web.api.base import bp


@bp.get("/me")
def me():
    return {"username": g.user, "token_id": g.token_id,
            "grants": [{"court": court, "role": role} for court, role in g.roles]}
