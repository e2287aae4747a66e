"""Handlers for credit sanctions: ``credit.restrict_consumption`` (限制消费令, J13), ``credit.lift_restriction``,
``credit.blacklist`` (纳入失信被执行人名单, J14) and ``credit.delist`` (删除失信信息).

The blacklist rules live here, whichever system is configured: minors are never listed (J14 Art 4, read from
the birth date in the ID number); the ground is one of the six of Art 1; the term is 2 years, extendable by
1–3 years for serious or repeated violations, and ground 1 has no fixed term (Art 2)."""
from __future__ import annotations

from handlers.base import HandlerContext
from handlers.config import use
from handlers.credit.adapter import DELIST_REASONS, GROUNDS, LIFT_REASONS, RESTRICTIONS
from handlers.party_id import parse_party_id
from handlers.registry import Produces, handler
from handlers.timeutil import stamp, term_end, today
from handlers.validate import choice, integer, optional_text, reject, text

ADULT = 18


@handler("credit.restrict_consumption", system="credit", inputs=("debtor_id", "debtor_name"),
         optional=("legal_representative",), records=(
             Produces("sanction", {"sanction_id": "order_id", "sanction": "=consumption_restriction",
                                   "effective_on": "effective_on"}),))
def restrict_consumption(ctx: HandlerContext, debtor_id: str, debtor_name: str,
                         legal_representative: str | None = None) -> dict:
    """Issue a consumption-restriction order (限制消费令). For an organisation it also binds its legal
    representative (J13 Art 3 ¶2), named in ``applies_to``."""
    party = parse_party_id("debtor_id", debtor_id)
    name = text("debtor_name", debtor_name, max_len=100)
    rep = optional_text("legal_representative", legal_representative, max_len=100)
    if rep and party.kind == "person":
        reject("legal_representative", "only an organisation has a legal representative")
    with use("credit") as system:
        order = system.restrict(ctx, party, name, rep)
    return {"order_id": order["order_id"], "debtor_id": party.value, "debtor_name": name,
            "applies_to": [name] + ([rep] if rep else []), "restrictions": list(RESTRICTIONS),
            "effective_on": today(ctx.now).isoformat(), "published_at": stamp(ctx.now)}


@handler("credit.lift_restriction", system="credit", inputs=("order_id", "reason"), records=(
    Produces("sanction_deletion", {"sanction_id": "order_id", "on": "lifted_on", "reason": "reason"}),))
def lift_restriction(ctx: HandlerContext, order_id: str, reason: str) -> dict:
    """Lift a consumption restriction (解除限制消费): on security, the applicant's consent, or full
    performance (J13 Art 9)."""
    order_id = text("order_id", order_id, max_len=64)
    reason = choice("reason", reason, LIFT_REASONS)
    with use("credit") as system:
        order = system.lift(ctx, order_id, reason)
    return {"order_id": order_id, "debtor_id": order["debtor_id"], "status": "lifted",
            "lifted_on": order["lifted_on"], "reason": reason, "reason_cn": LIFT_REASONS[reason]}


@handler("credit.blacklist", system="credit", inputs=("debtor_id", "debtor_name", "ground"), optional=("extra_years",),
         records=(Produces("sanction", {"sanction_id": "listing_id", "sanction": "=blacklist", "ground": "ground",
                                        "term_years": "term_years", "effective_on": "listed_on",
                                        "expires_on": "expires_on"}),))
def blacklist(ctx: HandlerContext, debtor_id: str, debtor_name: str, ground: object, extra_years: object = 0) -> dict:
    """List a debtor as dishonest (纳入失信被执行人名单) on one of the six grounds of J14 Art 1; never a minor."""
    party = parse_party_id("debtor_id", debtor_id)
    name = text("debtor_name", debtor_name, max_len=100)
    ground = integer("ground", ground, 1, 6)
    extra = integer("extra_years", extra_years or 0, 0, 3)
    day = today(ctx.now)
    age = party.age_on(day)
    if age is not None and age < ADULT:
        reject("debtor_id", f"{name} is a minor (age {age}): minors are never blacklisted (J14 Art 4)",
               age=age, rule="J14 Art 4")
    if ground == 1 and extra:
        reject("extra_years", "ground 1 has no fixed term, so it cannot be extended (J14 Art 2)")
    years = None if ground == 1 else 2 + extra
    expires_on = None if years is None else term_end(day, 12 * years)
    with use("credit") as system:
        listing = system.blacklist(ctx, party, name, ground, expires_on)
    return {"listing_id": listing["listing_id"], "debtor_id": party.value, "debtor_name": name, "ground": ground,
            "ground_cn": GROUNDS[ground], "term_years": years, "listed_on": day.isoformat(),
            "expires_on": expires_on.isoformat() if expires_on else None, "published_at": stamp(ctx.now)}


@handler("credit.delist", system="credit", inputs=("listing_id", "reason"), records=(
    Produces("sanction_deletion", {"sanction_id": "listing_id", "on": "deleted_on", "reason": "reason"}),))
def delist(ctx: HandlerContext, listing_id: str, reason: str) -> dict:
    """Delete a listing (删除失信信息) for one of the J14 Art 10 reasons (within 3 working days of the reason
    arising), or correct a wrong one (Art 12)."""
    listing_id = text("listing_id", listing_id, max_len=64)
    reason = choice("reason", reason, DELIST_REASONS)
    with use("credit") as system:
        listing = system.delist(ctx, listing_id, reason)
    return {"listing_id": listing_id, "debtor_id": listing["debtor_id"], "status": "deleted",
            "deleted_on": listing["deleted_on"], "reason": reason, "reason_cn": DELIST_REASONS[reason]}
