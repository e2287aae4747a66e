"""Public case progress (执行公开): what a party may see of a case with its case number and verification code.

**The code.** Each case's verification code (查询码) is derived from a key kept outside the store
(``ZHIXING_PUBLIC_CODE_KEY``, else the file ``var/public_code_key``, made once) and a random nonce stored with
the case, so an officer can show it again and print it on the notice (``Engine.public_code``) while the store
holds only a slow hash of it: a copy of the database alone does not reveal any code. The nonce is made the
first time the code is asked for (the officer's case page); a case whose code was never shown has no code, and
a lookup of it fails like a wrong code. Keep the key stable (like the session key): changing it changes every
code an officer sees, while the printed ones keep working until their case's code is issued again.

**What a party sees.** The case's coarse stage (立案, 执行启动, 财产查控, ..., 已结案), three dates (filed, notice
served, closed) and the documents served on the parties (name, date, the file when the court generated one).
Nothing else: no names or ids of parties or officers, no amounts, and no step names, because a step such as
"decide coercive measures" would warn a debtor before a freeze.

**Abuse.** Lookups are limited per client address (``LOOKUPS_PER_MINUTE``), counted in the store so that every
web process shares the count. An unknown case and a wrong code give the same answer, after the same work.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from engine.commands.office import OfficeWrite
from engine.errors import NotFound, TooManyLookups
from engine.legaltime.periods import COURT_TZ
from engine.store.tables import case_records, cases, courts, events, instances, public_codes, public_lookups

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"   # no I, L, O, 0, 1: read aloud and typed without mistakes
CODE_LENGTH = 8                                   # 31^8 ≈ 8.5·10^11 codes
HASH_ROUNDS = 50_000                              # PBKDF2-SHA256: about 15 ms a check
LOOKUPS_PER_MINUTE = 10
WINDOW = timedelta(minutes=1)
PARTIES = ("applicant", "debtor", "agent")        # party.notify roles a party may see (not banks, not third parties)
SERVICE_OPERATORS = ("notify.send", "party.notify")
NOTICE = "执行通知书"


# -- the code -----------------------------------------------------------------------------------------------
def local_key() -> bytes:
    """``ZHIXING_PUBLIC_CODE_KEY``, else ``$ZHIXING_VAR/public_code_key`` (default ``var/``), made once: written
    whole, then linked, so concurrent processes agree on the first one."""
    if os.environ.get("ZHIXING_PUBLIC_CODE_KEY"):
        return os.environ["ZHIXING_PUBLIC_CODE_KEY"].encode()
    path = Path(os.environ.get("ZHIXING_VAR", "var")) / "public_code_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"public_code_key.{os.getpid()}")
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        draft.unlink()
    return path.read_text().strip().encode()


def derive(key: bytes, case_no: str, nonce: str) -> str:
    number = int.from_bytes(hmac.new(key, f"{case_no}\n{nonce}".encode(), hashlib.sha256).digest(), "big")
    letters = []
    for _ in range(CODE_LENGTH):
        number, index = divmod(number, len(ALPHABET))
        letters.append(ALPHABET[index])
    return "".join(letters)


def normalise(code: str) -> str:
    """What a party typed, as the code is stored: upper case, without spaces and dashes."""
    return "".join(ch for ch in (code or "").upper() if ch not in " -\t")


def pretty(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def code_hash(code: str, nonce: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), nonce.encode(), HASH_ROUNDS).hex()


def issue(conn, case_no: str, key: bytes, now: datetime, renew: bool = False) -> str:
    """The case's code; made (or, with ``renew``, replaced) here."""
    if conn.execute(sa.select(instances.c.id).where(instances.c.case_no == case_no).limit(1)).first() is None:
        raise NotFound(f"case {case_no} does not exist")
    nonce = conn.execute(sa.select(public_codes.c.nonce).where(public_codes.c.case_no == case_no)).scalar()
    if nonce is None or renew:
        nonce = secrets.token_hex(16)
        code = derive(key, case_no, nonce)
        conn.execute(public_codes.delete().where(public_codes.c.case_no == case_no))
        conn.execute(public_codes.insert().values(case_no=case_no, nonce=nonce, code_hash=code_hash(code, nonce),
                                                  issued_at=now))
    return pretty(derive(key, case_no, nonce))


def count_lookup(conn, client: str, now: datetime) -> int:
    """Record one lookup by ``client``; return how many it made in the last minute (this one included)."""
    conn.execute(public_lookups.delete().where(public_lookups.c.at < now - WINDOW))
    conn.execute(public_lookups.insert().values(client=client[:64], at=now))
    return conn.execute(sa.select(sa.func.count()).select_from(public_lookups).where(
        public_lookups.c.client == client[:64], public_lookups.c.at >= now - WINDOW)).scalar()


def verify(conn, case_no: str, code: str) -> bool:
    row = conn.execute(sa.select(public_codes.c.nonce, public_codes.c.code_hash)
                       .where(public_codes.c.case_no == case_no)).first()
    nonce, expected = (row.nonce, row.code_hash) if row else ("-" * 32, "")
    given = code_hash(normalise(code), nonce)          # computed either way: no faster "no such case"
    return row is not None and hmac.compare_digest(given, expected)


# -- what a party sees --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServedDocument:
    name: str
    served_on: date | None
    path: str | None              # the generated file, when there is one (download)


@dataclass(frozen=True)
class PublicCase:
    case_no: str
    court_name: str
    stage: str                    # a stage code (filing, start, control, ...) or in_progress / concluded / closed
    filed_on: date
    notice_served_on: date | None
    closed_on: date | None
    documents: tuple


def _day(value) -> date | None:
    """A court day from an ISO date or timestamp (a naive timestamp is UTC, as the engine's clock gives)."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value or "")
        if len(text) == 10:
            try:
                return date.fromisoformat(text)
            except ValueError:
                return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(COURT_TZ).date()


def _served(conn, case_id: int) -> list[ServedDocument]:
    """Service on the parties (送达) that took effect, oldest first, as the case file records it: named by the
    document served (its title), else by the step that served it."""
    from engine.workspaces.casework import node_info
    rows = conn.execute(sa.select(case_records.c.kind, case_records.c.body, case_records.c.source,
                                  case_records.c.instance_id, case_records.c.event_seq)
                        .where(case_records.c.case_id == case_id, case_records.c.kind.in_(("document", "service")))
                        .order_by(case_records.c.id)).all()
    titles = {r.body["path"]: (r.body.get("title") or r.body.get("doc_type"), r.body.get("doc_type"))
              for r in rows if r.kind == "document"}
    served = []
    for r in rows:
        body = r.body
        if r.kind != "service" or body.get("delivered") is not True or body.get("role") not in PARTIES:
            continue
        path = body.get("document")
        title, doc_type = titles.get(path, (None, None))
        name = title or _step_name(conn, r.instance_id, r.event_seq, node_info) or NOTICE
        if doc_type == "enforcement_notice" and NOTICE not in name:
            name = f"{NOTICE} {name}"
        served.append(ServedDocument(name, _day(body.get("served_at") or body.get("sent_at")),
                                     path if path in titles else None))
    return served


def _step_name(conn, instance_id, seq, node_info) -> str | None:
    row = conn.execute(sa.select(events.c.bpmn_id, instances.c.definition_id)
                       .join(instances, instances.c.id == events.c.instance_id)
                       .where(events.c.instance_id == instance_id, events.c.seq == seq)).first()
    if row is None or not row.bpmn_id:
        return None
    return node_info(conn, row.definition_id).get(row.bpmn_id, {}).get("name") or row.bpmn_id


def public_case(conn, case_no: str) -> PublicCase:
    """The public view, from the case row and its records (案卷): one case, one row, whatever procedures run
    under it (the case clock never speaks for it)."""
    row = conn.execute(sa.select(cases, courts.c.name.label("court_name"))
                       .outerjoin(courts, courts.c.code == cases.c.court)
                       .where(cases.c.case_no == case_no).order_by(cases.c.id).limit(1)).first()
    if row is None:
        raise NotFound(f"case {case_no} does not exist")
    main = conn.execute(sa.select(instances.c.status, instances.c.ended_at)
                        .where(instances.c.id == row.main_instance_id)).first()
    closed = row.closed_on
    if closed is None and row.status != "open" and main is not None and main.ended_at:
        closed = _day(main.ended_at)
    if row.closed_on:
        stage = "closed"
    elif row.stage:
        stage = row.stage
    elif main is not None and main.status == "suspended":
        stage = "suspended"
    else:
        stage = "in_progress" if row.status == "open" else "concluded"
    documents = _served(conn, row.id)
    notice = next((d.served_on for d in documents if NOTICE in d.name), None)
    opened = _day(row.opened_at)
    assert opened is not None           # every case row has its filing moment
    return PublicCase(case_no, row.court_name or row.court, stage, opened, notice, closed,
                      tuple(documents))


# -- the facade -----------------------------------------------------------------------------------------------
class PublicAccess:
    """``Engine.public``: codes for officers, lookups for parties."""

    def __init__(self, executor, key: bytes | None = None):
        self.executor = executor
        self._key = key

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = local_key()
        return self._key

    def code(self, case_no: str, renew: bool = False) -> str:
        """The verification code to print on the case's notice (``ABCD-EFGH``); made on first use."""
        return self.executor.run(OfficeWrite(lambda conn, now: issue(conn, case_no, self.key, now, renew)))

    def lookup(self, case_no: str, code: str, client: str) -> PublicCase | None:
        """The case as a party may see it, or ``None`` for an unknown case or a wrong code (the same answer);
        ``TooManyLookups`` after ``LOOKUPS_PER_MINUTE`` lookups from ``client`` within a minute."""
        if self.executor.run(OfficeWrite(lambda conn, now: count_lookup(conn, client, now))) > LOOKUPS_PER_MINUTE:
            raise TooManyLookups(f"more than {LOOKUPS_PER_MINUTE} lookups in a minute from this address; "
                                 "wait a minute and try again")
        case_no = (case_no or "").strip()

        def read(conn):
            return public_case(conn, case_no) if verify(conn, case_no, code) else None
        return self.executor.read(read)

    def case(self, case_no: str) -> PublicCase:
        """The public view of a case already verified in this session (no code, no count)."""
        return self.executor.read(lambda conn: public_case(conn, case_no))

    def document(self, case_no: str, index: int) -> tuple[ServedDocument, Path]:
        """The file of the ``index``-th document served in the case; ``NotFound`` when it has none."""
        from handlers.documents.handlers import document_dir
        documents = self.case(case_no).documents
        if not 0 <= index < len(documents) or not documents[index].path:
            raise NotFound("this document cannot be downloaded")
        root = document_dir().resolve()
        file = (root / documents[index].path).resolve()
        if root not in file.parents or not file.is_file():
            raise NotFound("this document is missing from the court's document store")
        return documents[index], file
