"""The case file (案卷) in a step: which records a handler's result or a completed form produces, and the pure
reader diagrams use through ``case.…`` in the safe expression language.

Records are written only here, by the engine, in the transaction of the step that produced them:

* a service task's result, as its handler declares (``handlers.registry.Produces``): an asset search gives one
  ``asset_search`` and an ``asset`` per asset found, a queued measure an ``undisposable`` fact, …;
* a user task's form fields, as the task declares in its ``caseRecords`` property (``FormRecords`` below);
* a case's start data (``StartInstance(records=…)``, the filing or an import), each checked against its kind.

``CaseFacts`` reads the records of the case (those stored, plus those this step produced so far) and the
case header; every function is pure, bounded by the number of records and uses the engine's clock (virtual in
simulation), so it gives the same answer in a scenario every time. ``zhongben_check`` is the 终本 test of the
domain spec §6.1 (N2 Art 1) from those facts, used by the diagrams when the exit is proposed and again when the
ruling is issued, and by the 终本合格率 metric at the ruling's date.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from engine.errors import InvalidInput
from engine.kernel.expressions import FactReader
from engine.legaltime import clock
from engine.legaltime.periods import COURT_TZ
from engine.legaltime.timers import compute_deadline
from engine.store.casefile import KINDS, RecordInvalid, check_body, clue_key, money, money_text
from engine.store.tables import case_records, cases

# bodies come as text and are decoded in one call (a case page of 1,000 records: one json.loads, not 1,000)
_RECORDS_OF = sa.select(case_records.c.id, case_records.c.kind, sa.cast(case_records.c.body, sa.Text).label("body")) \
    .where(case_records.c.case_id == sa.bindparam("case_id")).order_by(case_records.c.id)
_RECORDS_UNTIL = sa.select(case_records.c.id, case_records.c.kind,
                           sa.cast(case_records.c.body, sa.Text).label("body")) \
    .where(case_records.c.case_id == sa.bindparam("case_id"),
           case_records.c.recorded_at <= sa.bindparam("until", type_=case_records.c.recorded_at.type)) \
    .order_by(case_records.c.id)
_HEADER = sa.select(cases).where(cases.c.id == sa.bindparam("case_id"))


# -- what a handler's result produces ----------------------------------------------------------------------------
def _value(source: dict, item: dict | None, path: str):
    if path.startswith("="):
        return path[1:]
    base = source if (item is None or path.startswith("^")) else item
    value: Any = base
    for part in path.lstrip("^").split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _when(condition: str | None, value: dict) -> bool:
    if not condition:
        return True
    key, sep, expected = condition.partition("=")
    found = value.get(key)
    return bool(found) if not sep else str(found) == expected


def records_from_result(spec, result: dict, case_no: str) -> list[tuple[str, dict]]:
    """``(kind, body)`` of each record ``result`` of handler ``spec`` produces for case ``case_no``. A result for
    another case (``ledger.receive`` with another ``case_no``) produces none here."""
    declared = getattr(spec, "records", ()) or ()
    if not declared or not isinstance(result, dict):
        return []
    if result.get("case_no") not in (None, "", case_no):
        return []
    out = []
    for produces in declared:
        items = result.get(produces.each) if produces.each else [None]
        for item in items if isinstance(items, list) else []:
            if produces.each and not isinstance(item, dict):
                continue
            if not _when(produces.when, item if item is not None else result):
                continue
            body = {}
            for name, path in produces.fields.items():
                value = _value(result, item, path)
                if value is not None:
                    body[name] = value
            if produces.kind == "asset" and "value" in body:
                body["value"] = money_text(body["value"])
            if produces.kind == "measure" and body.get("amount") is not None:
                body["amount"] = money_text(body["amount"])
            out.append((produces.kind, check_body(produces.kind, body)))
    return out


# -- what a form produces ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FormRecord:
    field: str          # the form field
    kind: str           # the record kind it feeds, or "case" for the case header
    attr: str | None    # the record's field (None: the field's value is the whole body)
    many: bool          # the field is a list, one record per item


def parse_form_records(text: str | None) -> list[FormRecord]:
    """The ``caseRecords`` property of a user task: ``field: kind.attr`` (the value is that attribute of one
    record of that kind; fields naming the same kind make one record together), ``field: kind`` (the value is
    the record's body), ``field: kind[]`` (a list, one record per item), ``field: case.owner`` (the case
    header). Separated by commas or new lines. Raises ``ValueError`` naming the bad part."""
    out = []
    for part in filter(None, (p.strip() for p in (text or "").replace("\n", ",").split(","))):
        field, sep, target = (s.strip() for s in part.partition(":"))
        if not sep or not field.isidentifier() or not target:
            raise ValueError(f"'{part}' is not 'field: kind', 'field: kind.attr', 'field: kind[]' or 'field: case.x'")
        many = target.endswith("[]")
        kind, _, attr = target.removesuffix("[]").partition(".")
        if kind == "case":
            from engine.store.casefile import HEADER
            if attr not in HEADER:
                raise ValueError(f"'{part}': the case header has no '{attr}' (it has {', '.join(HEADER)})")
        elif kind not in KINDS:
            raise ValueError(f"'{part}': no record kind '{kind}' (kinds: {', '.join(sorted(KINDS))})")
        elif attr and attr not in KINDS[kind].properties:
            raise ValueError(f"'{part}': a {kind} record has no field '{attr}' "
                             f"(it has {', '.join(KINDS[kind].properties)})")
        if many and attr:
            raise ValueError(f"'{part}': a list field feeds whole records (write 'field: {kind}[]')")
        out.append(FormRecord(field, kind, attr or None, many))
    return out


def form_records(declared: list[dict], data: dict, actor: str, today: str) -> tuple[list[tuple[str, dict]], dict]:
    """The records and the case header values a completed form produces (``declared``: ``FormRecord`` dicts from
    the definition's meta). A decision or interview gets who decided and when from the engine, never the form.
    Raises ``InvalidInput`` (``form.record_invalid``) naming the field whose value does not fit its record."""
    grouped: dict[str, dict] = {}
    sources: dict[str, list[str]] = {}
    out: list[tuple[str, dict]] = []
    header: dict = {}
    for decl in map(lambda d: FormRecord(**d), declared):
        if decl.field not in data:
            continue
        value = data[decl.field]
        if decl.kind == "case":
            header[decl.attr] = value
        elif decl.many:
            for i, item in enumerate(value if isinstance(value, list) else []):
                item = _shaped(decl.kind, item, today)
                if item is not None:
                    out.append((decl.kind, _checked(decl.kind, _stamped(decl.kind, item, actor, today),
                                                    f"{decl.field}.{i}")))
        elif decl.attr:
            grouped.setdefault(decl.kind, {})[decl.attr] = value
            sources.setdefault(decl.kind, []).append(decl.field)
        else:
            out.append((decl.kind, _checked(decl.kind, _stamped(decl.kind, value, actor, today), decl.field)))
    for kind, body in grouped.items():
        out.append((kind, _checked(kind, _stamped(kind, body, actor, today), ", ".join(sources[kind]))))
    return out, header


def _shaped(kind: str, item, today: str):
    """Form items in the shape the shipped forms give them: a clue as its text (the filing's list of the
    applicant's clues), a clue check as ``{clue, verified, note}`` (``verified: false``: no verification, the clue
    stays open). ``None``: the item records nothing."""
    if kind == "clue" and isinstance(item, str):
        return {"clue_id": clue_key(item), "source": "applicant", "description": item, "reported_on": today}
    if kind == "clue_verification" and isinstance(item, dict) and "clue" in item and "clue_id" not in item:
        if not item.get("verified"):
            return None
        clue = str(item["clue"])
        return {"clue_id": clue if clue.startswith("clue-") else clue_key(clue),
                "result": "found" if item.get("asset_id") else "nothing",
                **({"note": item["note"]} if item.get("note") else {})}
    return item


def _stamped(kind: str, body, actor: str, today: str):
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if kind == "decision":
        body["decided_by"] = actor
        body.setdefault("on", today)
    elif kind in ("interview", "whereabouts", "stay"):
        body.setdefault("on", today)
    return body


def _checked(kind: str, body, where: str) -> dict:
    try:
        return check_body(kind, body)
    except RecordInvalid as exc:
        raise InvalidInput(f"the form's field(s) {where} do not make a valid {kind} record: {exc}",
                           {where: str(exc)}, code="form.record_invalid", field=where, kind=kind) from None


def start_records(records, related_case_no: str | None, court: str) -> list[tuple[str, dict]]:
    """The records a case starts with: those given (checked, ``start.records.N`` named when one does not fit)
    and its relation to the case it belongs to."""
    out = []
    for i, record in enumerate(records or ()):
        if not isinstance(record, dict) or "kind" not in record:
            raise InvalidInput(f"start record {i} needs a kind and a body", {f"records.{i}": "kind"},
                               code="case.record_invalid", field=f"records.{i}")
        try:
            out.append((record["kind"], check_body(record["kind"], record.get("body") or {})))
        except RecordInvalid as exc:
            raise InvalidInput(f"start record {i}: {exc}", {f"records.{i}.{exc.field}": str(exc)},
                               code="case.record_invalid", field=f"records.{i}.{exc.field}") from None
    if related_case_no:
        out.append(("relation", check_body("relation", {"case_no": related_case_no, "relation": "parent",
                                                        "court": court})))
    return out


# -- reading ----------------------------------------------------------------------------------------------------
class Record(NamedTuple):
    id: int | None
    kind: str
    body: dict
    recorded_at: datetime | None = None


def load_records(conn, case_id: int | None, until: datetime | None = None) -> list[Record]:
    """The case's records in the order recorded (``until``: those recorded by then)."""
    if case_id is None:
        return []
    rows = conn.execute(_RECORDS_OF, {"case_id": case_id}).all() if until is None else \
        conn.execute(_RECORDS_UNTIL, {"case_id": case_id, "until": until}).all()
    if not rows:
        return []
    ids, kinds, texts = zip(*rows, strict=True)
    bodies = json.loads("[" + ",".join(texts) + "]")
    make = tuple.__new__          # a NamedTuple built without its Python-level __new__ (1,000 of them per page)
    return [make(Record, (rid, kind, body, None)) for rid, kind, body in zip(ids, kinds, bodies, strict=True)]


def load_header(conn, case_id: int | None) -> dict:
    if case_id is None:
        return {}
    row = conn.execute(_HEADER, {"case_id": case_id}).first()
    return dict(row._mapping) if row is not None else {}


def _day(value) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.astimezone(COURT_TZ).date()
    try:
        return date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return None


ZHONGBEN_CONDITIONS = ("notice_and_report_order", "restriction_and_blacklist", "assets_exhausted",
                       "three_months_since_filing", "missing_debtor_searched")


class CaseFacts(FactReader):
    """The case file as a diagram reads it: ``case.balance()``, ``case.searched_within("P3M")``, …

    Built per step from the stored records and the records this step produced so far (``pending``); reads only.
    ``on`` is the day the facts are read at (default: today on the engine's clock)."""

    def __init__(self, records: list[Record], header: dict, on: date | None = None):
        self._records = records
        self._header = header
        self._on = on
        self._by_kind: dict[str, list] = {}
        for r in records:
            self._by_kind.setdefault(r.kind, []).append(r.body)
        self._latest_cache: dict = {}

    # -- plumbing
    def _today(self) -> date:
        return self._on or clock.current().now().astimezone(COURT_TZ).date()

    def _of(self, kind: str) -> list[dict]:
        return self._by_kind.get(kind, [])

    def _latest(self, kind: str) -> dict:
        """The latest record of ``kind`` per thing it names (``KINDS[kind].key``), in the order recorded."""
        found = self._latest_cache.get(kind)
        if found is None:
            key = KINDS[kind].key
            found = self._latest_cache[kind] = {body.get(key): body for body in self._of(kind)}
        return found

    # -- the functions diagrams call
    def records(self, kind: str) -> list:
        """Every record of ``kind``, oldest first (bodies)."""
        if kind not in KINDS:
            raise ValueError(f"no record kind '{kind}'")
        return [dict(b) for b in self._of(kind)]

    def header(self, name: str):
        value = self._header.get(name)
        return value.isoformat() if isinstance(value, date) else value

    def searches(self, channel: str | None = None) -> list:
        return [dict(s) for s in self._of("asset_search") if channel in (None, s.get("channel"))]

    def last_search(self, channel: str = "national"):
        found = sorted(self.searches(channel), key=lambda s: str(s.get("searched_at")))
        return found[-1] if found else None

    def searched_within(self, period: str = "P3M", channels: str = "all") -> bool:
        """A complete search (every category of the channel) whose legal period ``period`` from its day has not
        run out today. ``channels="all"``: a complete national (总对总) search; ``"national"``/``"local"``/
        ``"field"``: one of that channel."""
        channel = "national" if channels == "all" else channels
        today = self._today()
        for search in self._of("asset_search"):
            if search.get("channel") != channel or (channels == "all" and not search.get("complete")):
                continue
            day = _day(search.get("searched_at"))
            last = compute_deadline(str(period), day).last_day if day is not None else None
            if day is not None and last is not None and day <= today and last >= today:
                return True
        return False

    def clues(self) -> list:
        return [dict(c) for c in self._latest("clue").values()]

    def unverified_clues(self) -> list:
        """Clues (from the applicant or others) with no verification recorded."""
        verified = set(self._latest("clue_verification"))
        return [dict(c) for cid, c in self._latest("clue").items() if cid not in verified]

    def assets(self) -> list:
        return [dict(a) for a in self._latest("asset").values()]

    def undisposable(self) -> list:
        """Assets recorded as undisposable, each with its reason."""
        return [dict(u) for u in self._latest("undisposable").values()]

    def disposable_assets(self) -> list:
        """Assets found that are not recorded as undisposable and not disposed of (released as ``disposed``)."""
        undisposable = set(self._latest("undisposable"))
        measures = self._latest("measure")
        disposed = {measures[m].get("asset_id") for m, r in self._latest("measure_release").items()
                    if r.get("reason") == "disposed" and m in measures}
        return [dict(a) for aid, a in self._latest("asset").items() if aid not in undisposable | disposed]

    def measures(self) -> list:
        """Control measures as they stand: renewals and releases applied."""
        out = {}
        for mid, m in self._latest("measure").items():
            out[mid] = dict(m)
        for mid, r in self._latest("measure_renewal").items():
            if mid in out:
                out[mid].update(expires_on=r.get("expires_on"), renewals=r.get("renewals"))
        for mid, r in self._latest("measure_release").items():
            if mid in out:
                out[mid].update(status="released", released_on=r.get("released_on"), release_reason=r.get("reason"))
        return list(out.values())

    def documents(self, doc_type: str | None = None) -> list:
        return [dict(d) for d in self._latest("document").values() if doc_type in (None, d.get("doc_type"))]

    def issued(self, doc_type: str) -> bool:
        """A document of ``doc_type`` was generated for the case."""
        return bool(self.documents(doc_type))

    def served(self, doc_type: str, role: str | None = None) -> bool:
        """A document of ``doc_type`` was served (送达 took effect) on a party (of ``role``, if given)."""
        paths = {d["path"] for d in self.documents(doc_type)}
        today = self._today()
        for s in self._of("service"):
            if s.get("document") in paths and s.get("delivered") and s.get("served_at") \
                    and (_day(s["served_at"]) or today) <= today and role in (None, s.get("role")):
                return True
        return False

    def received(self) -> float:
        return float(sum((money(r.get("amount")) for r in self._latest("receipt").values()), money(0)))

    def paid_out(self) -> float:
        return float(sum((money(p.get("amount")) for p in self._latest("payout").values()), money(0)))

    def balance(self) -> float:
        """Money received into the case account less money paid out (yuan)."""
        received = sum((money(r.get("amount")) for r in self._latest("receipt").values()), money(0))
        paid = sum((money(p.get("amount")) for p in self._latest("payout").values()), money(0))
        return float(received - paid)

    def sanction_in_force(self, sanction: str) -> bool:
        """A ``consumption_restriction`` or ``blacklist`` taken and neither deleted nor expired."""
        deleted = set(self._latest("sanction_deletion"))
        today = self._today()
        for sid, s in self._latest("sanction").items():
            expires = _day(s.get("expires_on")) if s.get("expires_on") else None
            if s.get("sanction") == sanction and sid not in deleted and (expires is None or expires >= today) \
                    and (_day(s.get("effective_on")) or today) <= today:
                return True
        return False

    def filed_more_than(self, period: str = "P3M") -> bool:
        """More than ``period`` has passed since filing (the legal period from the filing day has run out)."""
        filed = _day(self._header.get("filed_on"))
        last = compute_deadline(str(period), filed).last_day if filed is not None else None
        return last is not None and self._today() > last

    def debtor_missing(self) -> bool:
        """Recorded as missing, or (with nothing recorded) the last service on the debtor did not reach them."""
        stated = [w for w in self._of("whereabouts") if "debtor_missing" in w]
        if stated:
            return bool(stated[-1]["debtor_missing"])
        on_debtor = [s for s in self._of("service") if s.get("role") == "debtor"]
        return bool(on_debtor) and not any(s.get("delivered") and s.get("method") != "publication"
                                           for s in on_debtor)

    def missing_debtor_searched(self) -> bool:
        return any(w.get("searched") for w in self._of("whereabouts"))

    def zhongben_check(self, blacklist_required: bool = True) -> dict:
        """The five conditions of 终结本次执行程序 (N2 Art 1, domain spec §6.1) from the facts, each with its
        reason: ``{"ok", "conditions": {name: bool}, "failures": [name], "reasons": {name: text}}``.
        ``blacklist_required``: the debtor meets a blacklisting ground (the panel's decision)."""
        today = self._today()
        notice, report = self.served("enforcement_notice"), self.issued("asset_report_order")
        restricted, listed = self.sanction_in_force("consumption_restriction"), self.sanction_in_force("blacklist")
        search = self.last_search("national")
        fresh = self.searched_within("P3M", channels="all")
        open_assets = [a["asset_id"] for a in self.disposable_assets()]
        clues = [c.get("description") or c.get("clue_id") for c in self.unverified_clues()]
        filed = _day(self._header.get("filed_on"))
        three = compute_deadline("P3M", filed).last_day if filed else None
        missing = self.debtor_missing()
        conditions = {
            "notice_and_report_order": notice and report,
            "restriction_and_blacklist": restricted and (listed or not blacklist_required),
            "assets_exhausted": fresh and not open_assets and not clues,
            "three_months_since_filing": three is not None and today > three,
            "missing_debtor_searched": not missing or self.missing_debtor_searched(),
        }
        searched_on = str(search.get("searched_at"))[:10] if search else None
        if conditions["assets_exhausted"]:
            exhausted = f"{searched_on}总对总查询全部类别，未发现可供执行财产，线索均已核实"
        else:
            parts = []
            if not fresh:
                parts.append(f"最近一次总对总全类别查询{('于' + searched_on) if searched_on else '未进行'}，"
                             "终本前三个月内须有总对总全类别查询")
            if open_assets:
                parts.append(f"尚有可供处置的财产：{'、'.join(open_assets)}")
            if clues:
                parts.append(f"尚有未核实的财产线索：{'；'.join(map(str, clues))}")
            exhausted = "；".join(parts)
        reasons = {
            "notice_and_report_order": "执行通知书已送达，报告财产令已发出" if conditions["notice_and_report_order"]
            else "执行通知书未送达" if not notice else "未发出报告财产令",
            "restriction_and_blacklist": ("已发出限制消费令" + ("并纳入失信名单" if blacklist_required
                                                           else "（不符合纳入失信名单条件）"))
            if conditions["restriction_and_blacklist"]
            else "未发出限制消费令" if not restricted else "符合条件但未纳入失信名单",
            "assets_exhausted": exhausted,
            "three_months_since_filing": (f"{filed}立案，三个月期间已于{three}届满" if conditions[
                "three_months_since_filing"] else f"{filed}立案，三个月期间至{three}届满，尚未超过三个月")
            if filed else "未记载立案日期",
            "missing_debtor_searched": ("已查找下落不明的被执行人" if missing else "被执行人下落明确")
            if conditions["missing_debtor_searched"] else "被执行人下落不明，尚未查找",
        }
        failures = [k for k in ZHONGBEN_CONDITIONS if not conditions[k]]
        return {"ok": not failures, "conditions": conditions, "failures": failures, "reasons": reasons,
                "checked_on": today.isoformat()}


class LazyFacts(FactReader):
    """``case`` as a text sees it: the file is read only when a function of it is first called (a text that
    names ``case`` on a path it does not take costs nothing)."""

    def __init__(self, source):
        self._source, self._facts = source, None

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._facts is None:
            self._facts = self._source()
        return getattr(self._facts, name)


def facts_for(conn, case_id: int | None, pending: list | None = None, on: date | None = None,
              until: datetime | None = None) -> CaseFacts:
    records = load_records(conn, case_id, until)
    records += [Record(None, r["kind"], r["body"]) for r in pending or ()]
    return CaseFacts(records, load_header(conn, case_id), on)


# -- forms bound to the file -------------------------------------------------------------------------------------
CHOICE_SOURCES = ("clues", "unverified_clues", "assets", "disposable_assets", "measures", "documents", "parties",
                  "users:<role>")


def _choices(source: str, facts: CaseFacts, users) -> list[dict]:
    if source in ("clues", "unverified_clues"):
        found = facts.clues() if source == "clues" else facts.unverified_clues()
        return [{"const": c["clue_id"], "title": c.get("description") or c["clue_id"]} for c in found]
    if source in ("assets", "disposable_assets"):
        found = facts.assets() if source == "assets" else facts.disposable_assets()
        return [{"const": a["asset_id"], "title": " · ".join(filter(None, (
            a.get("description"), a.get("category_cn"), a.get("value") and f"{a['value']} 元"))) or a["asset_id"]}
            for a in found]
    if source == "measures":
        return [{"const": m["measure_id"], "title": f"{m.get('asset_id')} · {m.get('measure')} · {m.get('status')}"}
                for m in facts.measures()]
    if source == "documents":
        return [{"const": d["path"], "title": d.get("title") or d.get("doc_type")} for d in facts.documents()]
    if source == "parties":
        names = [("applicant", facts.header("applicant_name")), ("debtor", facts.header("debtor_name"))]
        names += [(p.get("role"), p.get("name")) for p in facts.records("party")]
        return [{"const": n, "title": n} for _r, n in dict.fromkeys(names) if n]
    if source.startswith("users:"):
        return [{"const": u, "title": f"{name} ({u})"} for u, name in users(source.removeprefix("users:"))]
    raise ValueError(f"unknown choices '{source}' (sources: {', '.join(CHOICE_SOURCES)})")


def bound(schema: dict | None) -> bool:
    """Whether a form names choices or computed values of the case file."""
    text = str(schema or "")
    return "x-zhixing-choices" in text or "x-zhixing-value" in text


def bind_choices(schema: dict | None, facts: CaseFacts, users) -> dict | None:
    """The form with each ``"x-zhixing-choices": source`` field turned into the case's own choices (``oneOf``
    of ``const`` + ``title``), read from the case file (or ``users(role)``: the court's users holding a role).
    The page renders them as a select; the completion is validated against the same schema, so an id that is
    not one of the case's (a forged asset, another court's user) is refused as a form error naming the field."""
    if not bound(schema):
        return schema

    def walk(node):
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) for k, v in node.items()}
        computed = out.pop("x-zhixing-value", None)
        if computed:                        # shown read-only; a value sent back must be the computed one
            value = f"{facts.balance():.2f}" if computed == "balance" else \
                facts.header(computed.removeprefix("header:")) if computed.startswith("header:") else None
            out.update(readOnly=True, default=value, const=value)
            out.pop("type", None)
        source = out.pop("x-zhixing-choices", None)
        if source:
            out.pop("enum", None)
            choices = _choices(source, facts, users)
            if choices:
                out["oneOf"] = choices
            else:
                out["enum"] = []            # nothing to choose: no value is valid
        return out
    return walk(schema)
