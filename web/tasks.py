"""Officers' tasks: the landing page, 我的待办 (my tasks) with filters, sorting and paging; claim, unclaim and (team
leaders) reassign; the task page with the case summary, the diagram's instructions and the task's form, which can
be saved as a draft and completed.

Who sees what: a task is listed and opened by the users holding its role in its court; a team leader
(``TEAM_LEADER_ROLES``, the command centre) also sees every open task of their court and may hand it on.
Completing is the engine's to allow (role, claim, separation of duties 审执分离, form); its refusals are shown in
the page, next to the field when they are about one.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import ROLES, TEAM_LEADER_ROLES, deadline_day
from engine.errors import ConcurrentModification, Forbidden, InvalidInput, NotFound, StateError
from web import task_form
from web.auth import OFFICER_ROLES, courts_for, has_role, login_required, requires, user_roles
from web.extension import engine
from web.security import page_number, safe_target

bp = Blueprint("tasks", __name__)

# where a user without officer roles lands (first match whose page is registered)
LANDING = [("supervise.dashboard", ("supervisor", "command_centre")), ("design.index", ("designer",)),
           ("admin.users", ("admin",))]
PER_PAGE = 50



@bp.app_context_processor
def officer_helpers():
    return {"role_label": role_label, "is_team_leader": is_team_leader}


@bp.app_template_filter("due_day")
def due_day(moment) -> str:
    """A deadline as officers read it: a legal period ends at midnight after its last day (期间届满日), shown as
    that day; a deadline with a time of day (hour periods) keeps it."""
    if not moment:
        return ""
    day, at = deadline_day(moment)
    return f"{day:%Y-%m-%d}" + (f" {at:%H:%M}" if at else "")


def role_label(code: str) -> str:
    zh, en = ROLES.get(code, (code, code))
    from web.i18n import current_language
    return zh if current_language() == "zh" else en


def is_team_leader(court: str | None = None) -> bool:
    courts = courts_for(*TEAM_LEADER_ROLES)
    return bool(courts) if court is None else court in courts


def _back(default: str) -> str:
    return safe_target(request.form.get("next", ""), default)


def _filters(args) -> dict:
    """The list's filters from the query string, each checked against what the user may ask for."""
    my_roles = {role for _court, role in user_roles()}
    filters = {"scope": "team" if args.get("scope") == "team" and is_team_leader() else "mine",
               "role": args.get("role") if args.get("role") in my_roles or
               (args.get("scope") == "team" and args.get("role") in ROLES) else None,
               "case_no": (args.get("case_no") or "").strip()[:64] or None,
               "overdue": args.get("overdue") == "1",
               "claim": args.get("claim") if args.get("claim") in ("mine", "unclaimed") else None,
               "sort": "created" if args.get("sort") == "created" else "due"}
    filters["page"] = page_number(args.get("page", 1))
    return filters


@bp.get("/")
@login_required
def index():
    if not has_role(*OFFICER_ROLES):
        for endpoint, roles in LANDING:
            if endpoint in current_app.view_functions and has_role(*roles):
                return redirect(url_for(endpoint))
        return render_template("officer/tasks.html", page=None, filters={}, query={})
    filters = _filters(request.args)
    page = engine().casework.tasks(g.user, per_page=PER_PAGE, **filters)
    query = {k: v for k, v in filters.items() if v and k != "page" and not (k == "scope" and v == "mine")
             and not (k == "sort" and v == "due")}
    query = {k: ("1" if v is True else v) for k, v in query.items()}
    my_roles = sorted({role for _court, role in user_roles() if role in OFFICER_ROLES})
    return render_template("officer/tasks.html", page=page, filters=filters, query=query, my_roles=my_roles,
                           role_codes=OFFICER_ROLES, courts=courts_for(*OFFICER_ROLES), user_roles=user_roles())


def _open(task_id: str):
    """The task, if the user holds its role in its court or leads a team there; 404 / 403 otherwise."""
    try:
        detail = engine().casework.task(task_id)
    except NotFound:
        abort(make_response(render_template("error.html", message=_("该任务已办结、已取消或不存在。")), 404))
    task = detail.task
    if (task.court, task.role) not in user_roles() and not is_team_leader(task.court):
        abort(403)
    return detail


@bp.post("/tasks/<task_id>/claim")
@requires(*OFFICER_ROLES)
def claim(task_id: str):
    return _claim_action(task_id, "claim")


@bp.post("/tasks/<task_id>/unclaim")
@requires(*OFFICER_ROLES)
def unclaim(task_id: str):
    return _claim_action(task_id, "unclaim")


@bp.post("/tasks/<task_id>/reassign")
@requires(*TEAM_LEADER_ROLES)
def reassign(task_id: str):
    return _claim_action(task_id, "reassign")


def _claim_action(task_id: str, action: str):
    back = _back(url_for("tasks.index"))
    try:
        detail = engine().casework.task(task_id)
    except NotFound:
        flash(_("该任务已办结、已取消或不存在。"), "error")
        return redirect(url_for("tasks.index"))
    task = detail.task
    try:
        if action == "claim":
            engine().claim_task(task_id, g.user)
            flash(_("已认领：%(task)s（%(case)s）", task=task.name, case=task.case_no))
        elif action == "unclaim":
            engine().unclaim_task(task_id, g.user)
            flash(_("已放弃认领：%(task)s（%(case)s）", task=task.name, case=task.case_no))
        else:
            target = request.form.get("target", "").strip()
            engine().casework.reassign(task_id, g.user, target)
            flash(_("已改派给 %(user)s：%(task)s（%(case)s）", user=target, task=task.name, case=task.case_no))
    except Forbidden:
        flash(_("你在法院 %(court)s 没有办理此任务的角色（%(role)s）。", court=task.court,
                role=role_label(task.role)) if action != "reassign" else
              _("只有本院执行指挥中心（组长）可以改派任务。"), "error")
    except InvalidInput:
        flash(_("改派对象必须在法院 %(court)s 持有角色 %(role)s。", court=task.court, role=role_label(task.role)),
              "error")
    except StateError as exc:
        flash(_("操作未完成：%(reason)s", reason=_claim_state(exc, task)), "error")
    except ConcurrentModification:
        flash(_("案件刚被他人修改，请刷新后重试。"), "error")
    return redirect(back)


def _claim_state(exc: StateError, task) -> str:
    """The officer's message for a refused claim, chosen by the error's code."""
    if exc.code == "task.claimed_by_other":
        return _("任务已由 %(user)s 认领", user=exc.params["claimed_by"])
    if exc.code == "task.not_claimed_by_you":
        return _("任务不是由你认领的")
    if exc.code == "task.already_with":
        return _("任务已在该同事名下")
    return str(exc)


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@requires(*OFFICER_ROLES)
def show(task_id: str):
    detail = _open(task_id)
    casework = engine().casework
    draft = casework.draft(task_id, g.user)
    raw, errors, problem, status = (draft.values if draft else {}), {}, None, 200
    if request.method == "POST":
        raw = task_form.raw_values(detail.form, detail.ui, request.form)
        if request.form.get("action") == "draft":
            casework.save_draft(task_id, g.user, raw)
            flash(_("草稿已保存，下次打开此任务时会恢复。"))
            return redirect(url_for("tasks.show", task_id=task_id))
        data, errors = task_form.parse(detail.form, detail.ui, raw)
        if errors:
            problem, status = _("表单有错误，请按字段提示修改。"), 422
        else:
            try:
                engine().complete_task(task_id, g.user, data)
            except InvalidInput as exc:
                errors, problem, status = _field_errors(detail, exc), _("表单有错误，请按字段提示修改。"), 422
            except Forbidden as exc:
                problem, status = _refusal(detail, exc), 403
            except (StateError, ConcurrentModification) as exc:
                problem, status = _("未能办结：%(reason)s", reason=str(exc)), 409
            except NotFound:
                flash(_("该任务已办结、已取消或不存在。"), "error")
                return redirect(url_for("tasks.index"))
            else:
                flash(_("已办结：%(task)s（%(case)s）", task=detail.task.name, case=detail.task.case_no))
                return redirect(url_for("tasks.index"))
    task = detail.task
    fields = task_form.fields(detail.form, detail.ui, raw, errors)
    leader = is_team_leader(task.court)
    return render_template(
        "officer/task.html", detail=detail, task=task, fields=fields, problem=problem,
        form_error=errors.get("(form)"), draft=draft, can_work=(task.court, task.role) in user_roles(),
        leader=leader, colleagues=casework.colleagues(task.court, task.role) if leader else []), status


def _field_errors(detail, exc: InvalidInput) -> dict:
    """The engine's messages per field (``a.b`` belongs to field ``a``), explained in the user's language."""
    by_name = {f.name: f for f in task_form.fields(detail.form, detail.ui)}
    out = {}
    for path, message in (exc.field_errors or {"(form)": str(exc)}).items():
        name = path.split(".")[0]
        if name in by_name:
            out.setdefault(name, task_form.explain(by_name[name], message))
        else:
            out.setdefault("(form)", message)
    return out


def _refusal(detail, exc: Forbidden) -> str:
    """The officer's message for a refused completion, chosen by the error's code."""
    if exc.code == "sod.excluded":
        return _("审执分离：你已办理过本案（或关联案件）的相关环节，不能办理“%(task)s”。请交由其他同事办理。",
                 task=detail.task.name) + f" ({exc})"
    if exc.code == "task.claimed_by_other":
        return _("任务已由 %(user)s 认领，只有认领人可以办结。", user=exc.params["claimed_by"])
    return _("你在法院 %(court)s 没有办理此任务的角色（%(role)s）。", court=detail.task.court,
             role=role_label(detail.task.role))
