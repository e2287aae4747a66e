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
from engine.store.tables import courts, events, instances, public_codes, public_lookups

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


def _served(conn, case_no: str) -> list[ServedDocument]:
    """Service on the parties (送达) that took effect, oldest first, named by the document served (its title), else
    by the step that served it."""
    from engine.workspaces.casework import node_info
    rows = conn.execute(sa.select(events.c.bpmn_id, events.c.data, instances.c.definition_id)
                        .join(instances, instances.c.id == events.c.instance_id)
                        .where(events.c.case_no == case_no, events.c.action == "service_completed")
                        .order_by(events.c.at, events.c.id)).all()
    titles = {}
    for r in rows:
        result = (r.data or {}).get("result") or {}
        if (r.data or {}).get("operator") == "document.generate" and result.get("path"):
            titles[result["path"]] = (result.get("title") or result.get("doc_type"), result.get("doc_type"))
    served = []
    for r in rows:
        operator, result = (r.data or {}).get("operator"), (r.data or {}).get("result") or {}
        if operator not in SERVICE_OPERATORS or result.get("delivered") is not True:
            continue
        if operator == "party.notify" and result.get("role") not in PARTIES:
            continue
        path = result.get("document") if operator == "party.notify" else None
        title, doc_type = titles.get(path, (None, None))
        step = node_info(conn, r.definition_id).get(r.bpmn_id, {}).get("name") or r.bpmn_id
        name = title or step
        if doc_type == "enforcement_notice" and NOTICE not in name:
            name = f"{NOTICE} {name}"
        served.append(ServedDocument(name, _day(result.get("served_at") or result.get("at")),
                                     path if path in titles else None))
    return served


def public_case(conn, case_no: str) -> PublicCase:
    rows = conn.execute(sa.select(instances.c.court, instances.c.status, instances.c.stage, instances.c.fields,
                                  instances.c.started_at, instances.c.ended_at, courts.c.name)
                        .outerjoin(courts, courts.c.code == instances.c.court)
                        .where(instances.c.case_no == case_no).order_by(instances.c.id)).all()
    if not rows:
        raise NotFound(f"case {case_no} does not exist")
    open_rows = [r for r in rows if r.status in ("running", "suspended")]
    closed = next((_day(r.fields.get("closed_on")) for r in rows if (r.fields or {}).get("closed_on")), None)
    if closed is None and not open_rows:
        closed = max((d for r in rows if (d := _day(r.ended_at))), default=None)
    # the procedure that keeps a stage speaks for the case (not a companion such as the case clock)
    current = open_rows or rows
    latest = ([r for r in current if r.stage] or current)[-1]
    if (latest.fields or {}).get("closed_on"):
        stage = "closed"
    elif latest.stage:
        stage = latest.stage
    elif latest.status == "suspended":
        stage = "suspended"
    else:
        stage = "in_progress" if open_rows else "concluded"
    documents = _served(conn, case_no)
    notice = next((d.served_on for d in documents if NOTICE in d.name), None)
    started = _day(rows[0].started_at)
    assert started is not None          # every instance has a start
    return PublicCase(case_no, rows[0].name or rows[0].court, stage, started, notice, closed,
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
