"""Court boundaries (法院边界): which court may number a case, link it to another case, or send it a message.

The engine keeps these rules; no caller's data can widen them:

* **Case numbers** (案号) are allocated by the engine from the court's counter. A number supplied by the caller
  (the import of an existing case) must be official — （YYYY）<court code><type code>N号 — carry the case's own
  court code, and be unused by any other case. A court whose code
  cannot appear in a case number (not like 川0104: such a court cannot be registered, see ``upsert_court``; the
  engine's own tests use them) keeps unique free-text numbers, and may never take an official-looking one.
* **Relations** between cases (关联案件) are recorded by the engine in ``case_relations`` when a case is started
  with a related case (an objection 执异 filed against an enforcement case 执, a review 执复 at the higher court):
  the related case must exist and belong to the same court, or — for a review 执复, supervision 执监 or
  coordination 执协 case — to a court below the new case's court (the hierarchy of ``courts.parent_code``).
  Separation of duties reads only these rows.
* **Messages** are delivered only to cases of the sender's court, or of a court the sender's case is related to
  by a recorded relation. The inbox keeps the sender's court, so a kept message reaches later only a case inside
  that boundary.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from engine.court.courts import CASE_NUMBER, COURT_CODE
from engine.errors import Forbidden, InvalidInput
from engine.store.tables import case_relations, courts, instances

_COURTS_OF_CASE = sa.select(instances.c.court).where(instances.c.case_no == sa.bindparam("case_no")).distinct()
_RELATED = sa.select(case_relations.c.related_case_no.label("other")).where(
    case_relations.c.case_no == sa.bindparam("case_no")).union(
    sa.select(case_relations.c.case_no).where(case_relations.c.related_case_no == sa.bindparam("case_no")))
_LINKED = sa.select(case_relations.c.id).where(sa.or_(
    sa.and_(case_relations.c.case_no == sa.bindparam("a"), case_relations.c.related_case_no == sa.bindparam("b")),
    sa.and_(case_relations.c.case_no == sa.bindparam("b"), case_relations.c.related_case_no == sa.bindparam("a")),
)).limit(1)


def courts_of_case(conn: sa.Connection, case_no: str) -> set[str]:
    """The courts holding instances of ``case_no`` (one, unless legacy data says otherwise; empty: no such case)."""
    return set(conn.execute(_COURTS_OF_CASE, {"case_no": case_no}).scalars())


def ancestors(conn: sa.Connection, court: str) -> list[str]:
    """The courts above ``court`` (中级, 高级 …), nearest first, from the registered hierarchy."""
    out, seen = [], {court}
    parent = conn.execute(sa.select(courts.c.parent_code).where(courts.c.code == court)).scalar()
    while parent and parent not in seen:
        out.append(parent)
        seen.add(parent)
        parent = conn.execute(sa.select(courts.c.parent_code).where(courts.c.code == parent)).scalar()
    return out


# -- case numbers ---------------------------------------------------------------------------------------------
def check_supplied_case_number(conn: sa.Connection, court: str, case_no: str) -> None:
    """Refuse a number a caller supplies for a new case unless it is official, the court's own and unused. (The
    type code is not compared with the procedure's ``caseType``: an imported 执异 case may run any procedure.)"""
    text = (case_no or "").strip()
    if text != case_no or not text:
        raise InvalidInput("case_no: a case number has no surrounding spaces", {"case_no": "format"},
                           code="case_no.format", case_no=case_no)
    match = CASE_NUMBER.match(text)
    if match is None and COURT_CODE.match(court or ""):
        raise InvalidInput(f"case_no: '{text}' is not an official case number like （2026）{court}执1号; leave it "
                           "out and the engine allocates the next one", {"case_no": "format"},
                           code="case_no.format", case_no=text)
    if match is not None:
        _year, number_court, _number_type, _serial = match.groups()
        if number_court != court:
            raise InvalidInput(f"case_no: '{text}' carries the court code {number_court}, not {court}'s own; a court "
                               "files only its own numbers", {"case_no": "foreign_court"},
                               code="case_no.foreign_court", case_no=text, court=court, number_court=number_court)
    if courts_of_case(conn, text):
        raise InvalidInput(f"case_no: case {text} already exists; a case number is used once",
                           {"case_no": "taken"}, code="case_no.taken", case_no=text)


def number_is_free(conn: sa.Connection, case_no: str) -> bool:
    return not courts_of_case(conn, case_no)


# -- relations ------------------------------------------------------------------------------------------------
# the case types a higher court opens on a lower court's case: review (执复), supervision (执监), coordination (执协)
UPWARD_TYPES = ("执复", "执监", "执协")


def check_relation(conn: sa.Connection, court: str, related_case_no: str, case_no: str) -> str:
    """The court of ``related_case_no`` if the new case ``case_no`` of ``court`` may be linked to it: a case of the
    same court, or — for a 执复/执监/执协 case — a case of a court below ``court``; refused otherwise."""
    found = courts_of_case(conn, related_case_no)
    if not found:
        raise InvalidInput(f"related_case_no: case {related_case_no} does not exist; a relation links two cases "
                           "the engine knows", {"related_case_no": "unknown"}, code="relation.unknown_case",
                           related_case_no=related_case_no)
    if court in found:
        return court
    match = CASE_NUMBER.match(case_no or "")
    upward = match is not None and match.group(3) in UPWARD_TYPES
    below = sorted(c for c in found if court in ancestors(conn, c))
    if not (upward and below):
        raise Forbidden(f"related_case_no: case {related_case_no} belongs to court {', '.join(sorted(found))}; a case "
                        f"of {court} may be related to it only as a {'/'.join(UPWARD_TYPES)} case of a court above "
                        "it", code="relation.foreign_court", related_case_no=related_case_no, court=court)
    return below[0]


def record_relation(conn: sa.Connection, case_no: str, court: str, related_case_no: str, related_court: str,
                    kind: str, instance_id: int | None, actor: str, now: datetime) -> None:
    """Write the link once (a second procedure of the same case linked again keeps the first row)."""
    exists = conn.execute(sa.select(case_relations.c.id).where(
        case_relations.c.case_no == case_no, case_relations.c.related_case_no == related_case_no)).first()
    if exists is None:
        conn.execute(case_relations.insert().values(
            case_no=case_no, court=court, related_case_no=related_case_no, related_court=related_court, kind=kind,
            instance_id=instance_id, recorded_by=actor, recorded_at=now))


def related_cases(conn: sa.Connection, case_no: str) -> list[str]:
    """The cases recorded as related to ``case_no``, both ways."""
    return sorted(set(conn.execute(_RELATED, {"case_no": case_no}).scalars()))


def linked(conn: sa.Connection, a: str | None, b: str) -> bool:
    return bool(a) and conn.execute(_LINKED, {"a": a, "b": b}).first() is not None


# -- messages -------------------------------------------------------------------------------------------------
def may_deliver(conn: sa.Connection, sender_court: str | None, sender_case: str | None, key: str,
                target_court: str, target_case: str) -> bool:
    """Whether a message of ``sender_court`` (thrown by ``sender_case``, or sent from outside when it is None),
    correlated on ``key``, may reach ``target_case`` of ``target_court``."""
    if not sender_court:
        return False                    # kept before the inbox recorded courts: an administrator re-sends it
    if target_court == sender_court or linked(conn, sender_case, target_case):
        return True
    # a procedure's message on a party key the waiting diagram declares (debtor_id, never a case number): 执转破
    return sender_case is not None and key != target_case and CASE_NUMBER.match(key or "") is None


def check_key_court(conn: sa.Connection, sender_court: str, key: str, sender_case: str | None) -> None:
    """Refuse a message keyed on another court's official case number that the sender's case is not linked to."""
    match = CASE_NUMBER.match(key or "")
    if match is None or match.group(2) == sender_court or linked(conn, sender_case, key):
        return
    raise Forbidden(f"message for case {key}: that number belongs to court {match.group(2)}; court {sender_court} "
                    "may send messages only to its own cases or to cases linked to the sender's case",
                    code="message.foreign_court", case_no=key, court=sender_court)
