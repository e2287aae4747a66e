"""The designers' side of the engine (流程设计): procedures and their versions, drafts, deploys, comparisons,
migration previews (scenario runs against a draft: ``tools.scenarios.simulate_draft``).

A **draft** is a working copy of a deployment set (the ``.bpmn``, ``.dmn`` and form ``.json`` files deployed
together), started from one version of one procedure and kept in the store (``design_drafts``,
``design_draft_files``) until it is deployed or deleted. Drafts hold no case data, so every designer sees them.

``Engine.design`` is a ``Designer``; the web layer calls it and receives the frozen views below.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import jsonschema
import sqlalchemy as sa

from engine.commands.migrate import check_movable
from engine.commands.office import OfficeWrite
from engine.definitions.diff import VersionDiff, diff_versions
from engine.definitions.form_schema import pattern_problems
from engine.definitions.layout import ensure_layout
from engine.errors import DefinitionInvalid, InvalidInput, NotFound, StateError
from engine.kernel.unit_of_work import UnitOfWork
from engine.legaltime import clock as clocks
from engine.legaltime.timers import using_calendar
from engine.store.tables import definitions, deployment_files, deployments, design_draft_files, design_drafts, instances

FILE_NAME = re.compile(r"^[\w\u4e00-\u9fff.-]{1,200}\.(bpmn|dmn|json)$")
MAX_FILE_BYTES = 2_000_000
CASES_PAGE = 25                 # cases listed per page of the migration preview
PREVIEW_BATCH = 5               # cases checked per request: each is migrated in memory
_REFERENCE = re.compile(r'name="(?:formJsonSchemaFilename|formUiSchemaFilename)"\s+value="([^"]+)"')


@dataclass(frozen=True)
class VersionSummary:
    process_id: str
    version: int
    name: str
    created_at: datetime
    deployed_by: str
    running: int            # running or suspended cases on this version, in the courts asked about


@dataclass(frozen=True)
class ProcedureSummary:
    process_id: str
    name: str
    versions: tuple[VersionSummary, ...]

    @property
    def newest(self) -> VersionSummary:
        return self.versions[-1]


@dataclass(frozen=True)
class DraftView:
    id: int
    process_id: str
    base_version: int | None
    main_file: str
    created_by: str
    updated_by: str
    updated_at: datetime
    files: dict = field(default_factory=dict)     # name -> text (only when one draft is read)


@dataclass(frozen=True)
class MigrationCandidate:
    instance_id: int
    case_no: str
    court: str
    status: str
    stage: str | None
    reasons: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons


class Designer:
    """What a process designer may ask of the engine (see the module docstring)."""

    def __init__(self, engine):
        self.engine = engine

    # -- procedures and versions -----------------------------------------------------------------------------
    def procedures(self, courts: Iterable[str]) -> list[ProcedureSummary]:
        """Every deployed procedure with its versions and how many cases of ``courts`` run on each."""
        courts = list(courts)
        counts = sa.select(instances.c.definition_id, sa.func.count().label("n")).where(
            instances.c.status.in_(("running", "suspended")), instances.c.court.in_(courts)) \
            .group_by(instances.c.definition_id).subquery()
        query = sa.select(definitions.c.process_id, definitions.c.version, definitions.c.name,
                          definitions.c.created_at, deployments.c.deployed_by,
                          sa.func.coalesce(counts.c.n, 0).label("running")) \
            .join(deployments, deployments.c.id == definitions.c.deployment_id) \
            .outerjoin(counts, counts.c.definition_id == definitions.c.id) \
            .order_by(definitions.c.process_id, definitions.c.version)
        grouped: dict[str, list[VersionSummary]] = {}
        for r in self._read(lambda conn: conn.execute(query).all()):
            grouped.setdefault(r.process_id, []).append(VersionSummary(*r))
        return [ProcedureSummary(pid, vs[-1].name, tuple(vs)) for pid, vs in grouped.items()]

    def newest_version(self, process_id: str) -> int | None:
        return self._read(lambda conn: conn.execute(sa.select(sa.func.max(definitions.c.version))
                                                    .where(definitions.c.process_id == process_id)).scalar())

    def version_diagram(self, process_id: str, version: int) -> tuple[str, str]:
        """``(file name, XML)`` of the diagram holding ``process@version``, with a layout if it had none."""
        def read(conn):
            row = _definition(conn, process_id, version)
            return row.file_name, _file(conn, row.deployment_id, row.file_name)
        name, text = self._read(read)
        return name, ensure_layout(text)

    def compare(self, process_id: str, old: int, new: int) -> VersionDiff:
        def read(conn):
            a, b = _definition(conn, process_id, old), _definition(conn, process_id, new)
            return (_file(conn, a.deployment_id, a.file_name), _files(conn, a.deployment_id),
                    _file(conn, b.deployment_id, b.file_name), _files(conn, b.deployment_id))
        old_xml, old_files, new_xml, new_files = self._read(read)
        return diff_versions(process_id, old_xml, old_files, new_xml, new_files)

    # -- drafts ----------------------------------------------------------------------------------------------
    def create_draft(self, process_id: str, version: int, actor: str) -> int:
        """A draft of the set ``process@version`` was deployed with (see ``_draft_set``)."""
        def write(conn, now):
            row = _definition(conn, process_id, version)
            files = _draft_set(conn, row)
            draft_id = conn.execute(design_drafts.insert().values(
                process_id=process_id, base_version=version, main_file=row.file_name, created_by=actor,
                created_at=now, updated_by=actor, updated_at=now)).inserted_primary_key[0]
            conn.execute(design_draft_files.insert(), [dict(draft_id=draft_id, name=n, content=c)
                                                       for n, c in sorted(files.items())])
            return draft_id
        return self._run(write, "draft.create", actor, f"{process_id}@{version}")

    def drafts(self) -> list[DraftView]:
        rows = self._read(lambda conn: conn.execute(sa.select(design_drafts)
                                                    .order_by(design_drafts.c.updated_at.desc())).all())
        return [_draft_view(r) for r in rows]

    def draft(self, draft_id: int) -> DraftView:
        def read(conn):
            row = conn.execute(sa.select(design_drafts).where(design_drafts.c.id == draft_id)).first()
            if row is None:
                raise NotFound(f"draft {draft_id} does not exist (deleted or deployed?)")
            files = conn.execute(sa.select(design_draft_files.c.name, design_draft_files.c.content)
                                 .where(design_draft_files.c.draft_id == draft_id)).all()
            return _draft_view(row, {n: c for n, c in files})
        return self._read(read)

    def editor_file(self, draft_id: int, name: str) -> str:
        """A file of the draft as the editor opens it: a diagram without a layout gets one (kept once saved; a
        file nobody saves is deployed as it was, so a draft never changes the other procedures of its set)."""
        files = self.draft(draft_id).files
        if name not in files:
            raise NotFound(f"{name} is not a file of draft {draft_id}")
        return ensure_layout(files[name]) if name.endswith(".bpmn") else files[name]

    def save_file(self, draft_id: int, name: str, content: str, actor: str) -> None:
        """Store one file of a draft (a new form or table may be added beside the diagram)."""
        if not FILE_NAME.match(name):
            raise InvalidInput(f"'{name}' is not a file name a set may hold (letters, digits, ._-; ending .bpmn, "
                               ".dmn or .json)", {"name": "invalid"})
        if len(content.encode()) > MAX_FILE_BYTES:
            raise InvalidInput(f"{name} is larger than {MAX_FILE_BYTES // 1_000_000} MB", {"content": "too large"})
        if name.endswith(".json"):
            problem = json_problem(name, content)
            if problem:
                raise InvalidInput(f"{name}: {problem}", {"content": problem})
        self.draft(draft_id)   # NotFound for a deleted draft

        def write(conn, now):
            key = (design_draft_files.c.draft_id == draft_id) & (design_draft_files.c.name == name)
            if conn.execute(design_draft_files.update().where(key).values(content=content)).rowcount == 0:
                conn.execute(design_draft_files.insert().values(draft_id=draft_id, name=name, content=content))
            conn.execute(design_drafts.update().where(design_drafts.c.id == draft_id)
                         .values(updated_by=actor, updated_at=now))
        self._run(write, "draft.save", actor, f"draft {draft_id}", {"file": name})

    def delete_draft(self, draft_id: int, actor: str = "system") -> None:
        def write(conn, _now):
            conn.execute(design_draft_files.delete().where(design_draft_files.c.draft_id == draft_id))
            conn.execute(design_drafts.delete().where(design_drafts.c.id == draft_id))
        self._run(write, "draft.delete", actor, f"draft {draft_id}")

    def validate_draft(self, draft_id: int):
        """The engine's problems (``file:line: element-id: message``) for the draft's set."""
        return self.engine.validate(_encoded(self.draft(draft_id).files))

    def deploy_draft(self, draft_id: int, actor: str):
        """Deploy the draft's whole set as new versions; the draft is kept (a designer may go on editing).

        A file of another procedure that is older than what is deployed now would roll that procedure back: it is
        refused (``StateError``) instead.
        """
        draft = self.draft(draft_id)
        files = _encoded(draft.files)
        problems = self.engine.validate(files)
        if problems:
            raise DefinitionInvalid(problems)
        stale = self._read(lambda conn: _stale(conn, files, draft.process_id, self.engine.registry))
        if stale:
            raise StateError("deploying this draft would roll back " + ", ".join(stale) + ", deployed since the "
                             "draft was made; start a new draft from the newest version")
        return self.engine.deploy(files, actor=actor)

    # -- migration -------------------------------------------------------------------------------------------
    def migration_cases(self, process_id: str, from_version: int, courts: Iterable[str], after: int = 0,
                        limit: int = CASES_PAGE) -> tuple[int, list[MigrationCandidate]]:
        """How many cases of ``courts`` run (or are suspended) on ``from_version``, and ``limit`` of them with an
        instance id above ``after``, not yet checked (no reasons): a cheap list to preview in batches."""
        def read(conn):
            where = _on_version(conn, process_id, from_version, courts)
            total = conn.execute(sa.select(sa.func.count()).select_from(instances).where(where)).scalar()
            rows = conn.execute(sa.select(instances.c.id, instances.c.case_no, instances.c.court, instances.c.status,
                                          instances.c.stage).where(where, instances.c.id > after)
                                .order_by(instances.c.id).limit(limit)).all()
            return total, [MigrationCandidate(*r, reasons=(), notes=()) for r in rows]
        return self._read(read)

    def migration_preview(self, process_id: str, from_version: int, to_version: int, courts: Iterable[str],
                          ids: Iterable[int] | None = None, after: int = 0,
                          limit: int = PREVIEW_BATCH) -> tuple[int, list[MigrationCandidate]]:
        """Whether cases of ``courts`` on ``from_version`` can move to ``to_version``, and why not: the cases
        ``ids`` (those still on that version), else ``limit`` of them above ``after``; with the total on that
        version. Each case is migrated in memory (a few ms each); nothing is saved."""
        executor = self.engine.executor

        def read(conn):
            where = _on_version(conn, process_id, from_version, courts)
            _definition(conn, process_id, to_version)
            total = conn.execute(sa.select(sa.func.count()).select_from(instances).where(where)).scalar()
            query = sa.select(instances.c.id).where(where).order_by(instances.c.id)
            query = query.where(instances.c.id.in_(list(ids))) if ids is not None \
                else query.where(instances.c.id > after).limit(limit)
            uow = UnitOfWork(conn, executor.clock.now(), executor._definitions, None, executor._settings)
            out, diffs = [], {}
            for instance_id in conn.execute(query).scalars().all():
                handle = uow.load(instance_id)
                _target, plan = check_movable(uow, handle, to_version, diffs, verify=False)
                out.append(MigrationCandidate(handle.id, handle.case_no, handle.court, handle.status, handle.stage,
                                              tuple(plan.reasons), tuple(plan.notes)))
            return total, out

        with clocks.using(executor.clock), using_calendar(self.engine.calendar()):
            return self._read(read)

    def operators(self) -> list[str]:
        """The service-task operators a diagram may name (the registered handlers)."""
        return sorted(spec.name for spec in self.engine.registry)

    # -- plumbing --------------------------------------------------------------------------------------------
    def _read(self, fn):
        return self.engine.executor.read(fn)

    def _run(self, apply, action: str, actor: str, subject: str, data: dict | None = None):
        return self.engine.executor.run(OfficeWrite(apply, action, actor, subject, data=data or {}))


def _definition(conn, process_id: str, version: int):
    row = conn.execute(sa.select(definitions).where(definitions.c.process_id == process_id,
                                                    definitions.c.version == version)).first()
    if row is None:
        raise NotFound(f"procedure {process_id}@{version} is not deployed")
    return row


def _on_version(conn, process_id: str, version: int, courts: Iterable[str]):
    """The condition selecting the open (running or suspended) cases of ``courts`` on ``process@version``."""
    source = _definition(conn, process_id, version)
    return (instances.c.definition_id == source.id) & instances.c.court.in_(list(courts)) \
        & instances.c.status.in_(("running", "suspended"))


def _file(conn, deployment_id: int, name: str) -> str:
    text = conn.execute(sa.select(deployment_files.c.content).where(
        deployment_files.c.deployment_id == deployment_id, deployment_files.c.name == name)).scalar()
    if text is None:
        raise NotFound(f"{name} is not stored with deployment {deployment_id}")
    return text


def _files(conn, deployment_id: int) -> dict[str, str]:
    return dict(conn.execute(sa.select(deployment_files.c.name, deployment_files.c.content)
                             .where(deployment_files.c.deployment_id == deployment_id)).all())


def _draft_set(conn, row) -> dict[str, str]:
    """The files ``row`` (a definition) was deployed with: its diagram and the forms and tables it uses as they
    were then, every other file as most recently deployed (so editing an old version of one procedure does not
    carry old copies of the others)."""
    files = _files(conn, row.deployment_id)
    own = {row.file_name, *_REFERENCE.findall(files[row.file_name])}
    own |= {name for name, text in files.items() if name.endswith(".dmn") and _decisions(text)
            & set(re.findall(r"calledDecisionId>\s*([^<\s]+)", files[row.file_name]))}
    for name in files.keys() - own:
        newest = conn.execute(sa.select(deployment_files.c.content).where(deployment_files.c.name == name)
                              .order_by(deployment_files.c.deployment_id.desc()).limit(1)).scalar()
        files[name] = newest if newest is not None else files[name]
    return files


def _decisions(dmn: str) -> set[str]:
    return set(re.findall(r'<(?:\w+:)?decision\b[^>]*\bid="([^"]+)"', dmn))


def _stale(conn, files: Mapping[str, bytes], own_process: str, registry) -> list[str]:
    """Processes of the set (other than ``own_process``) whose content equals an older version than the newest."""
    from engine.definitions.parser import parse

    stale = []
    for p in parse(files, registry=registry):
        if p.process_id == own_process:
            continue
        rows = conn.execute(sa.select(definitions.c.version, definitions.c.content_hash)
                            .where(definitions.c.process_id == p.process_id)
                            .order_by(definitions.c.version.desc())).all()
        if rows and rows[0].content_hash != p.content_hash and any(r.content_hash == p.content_hash for r in rows):
            old = next(r.version for r in rows if r.content_hash == p.content_hash)
            stale.append(f"{p.process_id} (to the content of version {old}; version {rows[0].version} is deployed)")
    return stale


def _encoded(files: Mapping[str, str]) -> dict[str, bytes]:
    return {name: text.encode("utf-8") for name, text in files.items()}


def _draft_view(row, files: dict | None = None) -> DraftView:
    return DraftView(row.id, row.process_id, row.base_version, row.main_file, row.created_by, row.updated_by,
                     row.updated_at, files or {})


def json_problem(name: str, text: str) -> str | None:
    """What is wrong with a form file: not JSON, or (``*.schema.json``) not a valid draft 2020-12 JSON Schema."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    except RecursionError:                   # ~990 levels: the parser's own limit
        return "not valid JSON: nested too deeply"
    if name.endswith(".schema.json"):
        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
            return f"not a valid JSON Schema (draft 2020-12) at {where}: {exc.message}"
        except RecursionError:
            return "nested too deeply to be a form"
        problems = pattern_problems(value)
        if problems:
            return problems[0]
    return None
