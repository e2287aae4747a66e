"""Process designers' pages (流程设计, role ``designer``): procedures and versions, the BPMN modeler and DMN editor on
drafts, forms, validation with the errors on the elements, deploy, version comparison, migration of running cases,
and scenario runs against a draft.

Procedures and drafts hold no case data and are the same for every court; the numbers of running cases, the
migration preview and the migration itself are limited to the courts where the user is a designer.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import MIGRATION_CASES_PAGE as CASES_PAGE
from engine import MIGRATION_PREVIEW_BATCH as PREVIEW_BATCH
from engine import DefinitionInvalid, InvalidInput, NotFound, StateError, ZhixingError
from tools.scenarios import procedure_scenarios, simulate_draft
from web.auth import courts_for, requires
from web.extension import engine as _engine

bp = Blueprint("design", __name__, url_prefix="/design")
ROLE = "designer"
NEW_FORM = '{\n  "$schema": "https://json-schema.org/draft/2020-12/schema",\n  "type": "object",\n' \
           '  "required": [],\n  "properties": {}\n}\n'



def _courts() -> list[str]:
    return courts_for(ROLE)


def _int_arg(name: str) -> int:
    try:
        return int(request.values.get(name, ""))
    except ValueError:
        abort(400, _("参数 %(name)s 应为整数", name=name))


def _problems(problems) -> list[dict]:
    return [{"file": p.file, "line": p.line, "element_id": p.element_id, "message": p.message} for p in problems]


# -- procedures and drafts -------------------------------------------------------------------------------------
@bp.get("/")
@requires(ROLE)
def index():
    design = _engine().design
    return render_template("design/index.html", procedures=design.procedures(_courts()), drafts=design.drafts(),
                           courts=_courts())


@bp.post("/drafts")
@requires(ROLE)
def new_draft():
    draft_id = _engine().design.create_draft(request.form.get("process", ""), _int_arg("version"), g.user)
    return redirect(url_for("design.edit", draft_id=draft_id))


@bp.get("/drafts/<int:draft_id>")
@requires(ROLE)
def edit(draft_id: int):
    design = _engine().design
    draft = design.draft(draft_id)
    name = request.args.get("file") or draft.main_file
    if name not in draft.files:
        abort(404)
    return _edit_page(draft, name, draft.files[name])


def _edit_page(draft, name: str, content: str, form_error: str | None = None, status: int = 200):
    json_files = sorted(f for f in draft.files if f.endswith(".json"))
    return render_template("design/edit.html", draft=draft, name=name, content=content,
                           newest=_engine().design.newest_version(draft.process_id),
                           diagrams=sorted(set(draft.files) - set(json_files)), json_files=json_files,
                           forms=[f for f in json_files if f.endswith(".schema.json")],
                           operators=_engine().design.operators(), form_error=form_error), status


@bp.get("/drafts/<int:draft_id>/file")
@requires(ROLE)
def file(draft_id: int):
    name = request.args.get("name", "")
    return Response(_engine().design.editor_file(draft_id, name),
                    mimetype="application/xml" if name.endswith((".bpmn", ".dmn")) else "application/json")


@bp.post("/drafts/<int:draft_id>/file")
@requires(ROLE)
def save(draft_id: int):
    """Save one file: JSON ``{name, content}`` from the modelers (answered in JSON), or the form editor's form."""
    design = _engine().design
    body = request.get_json(silent=True) if request.is_json else None
    if request.is_json and not (isinstance(body, dict) and isinstance(body.get("name"), str)
                                and isinstance(body.get("content"), str)):
        return jsonify(ok=False, error=_("请求应为 JSON 对象 {name, content}，两者都是文本")), 422
    name = (body or request.form).get("name", "")
    content = (body or request.form).get("content", "")
    if body is None and name not in design.draft(draft_id).files:
        abort(404)
    try:
        design.save_file(draft_id, name, content, g.user)
    except InvalidInput as exc:
        if body is not None:
            return jsonify(ok=False, error=str(exc)), 422
        return _edit_page(design.draft(draft_id), name, content, exc.field_errors.get("content") or str(exc), 422)
    if body is not None:
        return jsonify(ok=True)
    flash(_("已保存 %(name)s", name=name))
    return redirect(url_for("design.edit", draft_id=draft_id, file=name))


@bp.post("/drafts/<int:draft_id>/forms")
@requires(ROLE)
def new_form(draft_id: int):
    stem = request.form.get("stem", "").strip()
    name = f"{stem}.schema.json"
    design = _engine().design
    if name in design.draft(draft_id).files:
        flash(_("文件 %(name)s 已存在", name=name), "error")
        return redirect(url_for("design.edit", draft_id=draft_id, file=name))
    try:
        design.save_file(draft_id, name, NEW_FORM, g.user)
    except InvalidInput as exc:
        flash(str(exc), "error")
        return redirect(url_for("design.edit", draft_id=draft_id))
    return redirect(url_for("design.edit", draft_id=draft_id, file=name))


@bp.post("/drafts/<int:draft_id>/validate")
@requires(ROLE)
def validate(draft_id: int):
    return jsonify(problems=_problems(_engine().design.validate_draft(draft_id)))


@bp.post("/drafts/<int:draft_id>/deploy")
@requires(ROLE)
def deploy(draft_id: int):
    design = _engine().design
    draft = design.draft(draft_id)
    try:
        views = design.deploy_draft(draft_id, g.user)
    except DefinitionInvalid as exc:
        return jsonify(ok=False, error=_("草稿有错误，未部署"), problems=_problems(exc.problems)), 422
    except StateError as exc:
        return jsonify(ok=False, error=str(exc), problems=[]), 409
    own = next((v for v in views if v.process_id == draft.process_id), None)
    migrate = None
    if own is not None and own.created and own.version > 1:
        migrate = url_for("design.migrate", process=own.process_id, old=draft.base_version or own.version - 1,
                          new=own.version)
    created = [v.label for v in views if v.created]
    return jsonify(ok=True, created=created, migrate_url=migrate,
                   message=_("已部署：%(labels)s", labels=", ".join(created)) if created
                   else _("内容未改变，没有新版本"))


@bp.post("/drafts/<int:draft_id>/delete")
@requires(ROLE)
def delete(draft_id: int):
    _engine().design.delete_draft(draft_id, g.user)
    flash(_("草稿已删除"))
    return redirect(url_for("design.index"))


# -- versions: diagram, comparison, migration -------------------------------------------------------------------
@bp.get("/versions/<process_id>/<int:version>.bpmn")
@requires(ROLE)
def diagram(process_id: str, version: int):
    _name, text = _engine().design.version_diagram(process_id, version)
    return Response(text, mimetype="application/xml")


def _versions(process_id: str):
    procedure = next((p for p in _engine().design.procedures(_courts()) if p.process_id == process_id), None)
    if procedure is None:
        raise NotFound(f"procedure {process_id} is not deployed")
    return procedure


def _pair(procedure) -> tuple[int, int]:
    """The two versions asked for (``old``, ``new``): by default the one before the newest, and the newest."""
    numbers = [v.version for v in procedure.versions]
    try:
        new = int(request.values.get("new") or numbers[-1])
        old = int(request.values.get("old") or (numbers[-2] if len(numbers) > 1 else numbers[-1]))
    except ValueError:
        abort(400, _("版本号应为整数"))
    if old not in numbers or new not in numbers:
        abort(404)
    return old, new


@bp.get("/compare")
@requires(ROLE)
def compare():
    procedure = _versions(request.args.get("process", ""))
    old, new = _pair(procedure)
    diff = _engine().design.compare(procedure.process_id, old, new)
    return render_template("design/compare.html", procedure=procedure, old=old, new=new, diff=diff)


@bp.route("/migrate", methods=["GET", "POST"])
@requires(ROLE)
def migrate():
    """The cases of my courts on ``old``, 25 a page, each row checked by ``migrate_rows`` (5 per request, since
    each check migrates the case in memory); POST moves the chosen ones, each in its own transaction (one refused
    case does not stop the others)."""
    procedure = _versions(request.values.get("process", ""))
    old, new = _pair(procedure)
    engine, results = _engine(), []
    if request.method == "POST":
        for instance_id in sorted({int(i) for i in request.form.getlist("instance") if i.isdigit()}):
            label = f"#{instance_id}"
            try:
                moved = engine.migrate_instance(instance_id, new, g.user, from_version=old, courts=_courts(),
                                                process_id=procedure.process_id)
                label = moved.case_no
                results.append((label, True, _("已迁移到版本 %(v)s", v=new)))
            except ZhixingError as exc:
                results.append((label, False, str(exc)))
    after = request.values.get("after", "0")
    after = int(after) if after.isdigit() else 0
    total, cases = engine.design.migration_cases(procedure.process_id, old, _courts(), after=after)
    batches = [cases[i:i + PREVIEW_BATCH] for i in range(0, len(cases), PREVIEW_BATCH)]
    following = cases[-1].instance_id if len(cases) == CASES_PAGE else None
    return render_template("design/migrate.html", procedure=procedure, old=old, new=new, total=total,
                           batches=batches, results=results, after=after, following=following)


@bp.get("/migrate/rows")
@requires(ROLE)
def migrate_rows():
    """Rows of the migration preview for a few cases (loaded by the page with htmx)."""
    procedure = _versions(request.args.get("process", ""))
    old, new = _pair(procedure)
    ids = [int(i) for i in request.args.get("ids", "").split(",") if i.isdigit()][:PREVIEW_BATCH]
    _total, candidates = _engine().design.migration_preview(procedure.process_id, old, new, _courts(), ids=ids)
    return render_template("design/_migrate_rows.html", candidates=candidates)


# -- scenarios --------------------------------------------------------------------------------------------------
@bp.route("/drafts/<int:draft_id>/simulate", methods=["GET", "POST"])
@requires(ROLE)
def simulate(draft_id: int):
    design = _engine().design
    draft = design.draft(draft_id)
    picks = procedure_scenarios(draft.process_id)
    text = request.form.get("scenario") or picks.get(request.args.get("pick", ""), "")
    run = None
    if request.method == "POST":
        if not text.strip():
            flash(_("请粘贴或选择一个场景"), "error")
        else:
            run = simulate_draft(draft.files, text)
    return render_template("design/simulate.html", draft=draft, picks=picks, text=text, run=run)
