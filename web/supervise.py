"""Supervisors' pages (监督管理, 执行指挥中心): the dashboard, the case and instance list with its CSV export, one
instance on its diagram (with suspend / resume / terminate and incident retry), the incident list and the
procedure heatmap.

Who sees what: a supervisor sees the cases of the courts where they hold ``supervisor`` or ``command_centre``
and, when they tick "含下级法院", of the courts below those (上级法院监督下级法院); they act (suspend, resume,
terminate, retry) only on cases of their own courts.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, timedelta
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine import COURT_TZ, ROLES, TEAMS, ZhixingError
from engine import INSTANCE_STATUSES as STATUSES
from engine import SupervisionFilters as Filters
from web.auth import courts_for, requires
from web.cases import stage_label
from web.extension import engine as _engine
from web.i18n import current_language
from web.nav import SUPERVISORS
from web.security import FIRST_DAY, LAST_DAY, page_number, safe_target

bp = Blueprint("supervise", __name__, url_prefix="/supervise")

STATUS_LABELS = {"running": _l("进行中"), "suspended": _l("已挂起"), "completed": _l("已完成"),
                 "terminated": _l("已终止")}
JOB_KINDS = {"timer": _l("定时器"), "service": _l("服务调用"), "message": _l("消息")}
ACTIONS = {"suspend": _l("挂起"), "resume": _l("恢复"), "terminate": _l("终止")}
PER_PAGE = 50



def _flag(name: str) -> bool:
    return request.args.get(name) in ("1", "on", "true")


def _scope() -> list[str]:
    """The courts this request may show: mine, plus those below them when the user asked for that."""
    return _engine().supervision.scope(courts_for(*SUPERVISORS), _flag("sub"))


def _reach(court: str) -> None:
    """404 unless the case's court is one the user supervises (or one below it): another court's case does not
    exist for them."""
    if court not in _engine().supervision.scope(courts_for(*SUPERVISORS), True):
        abort(404)


def _may_act(court: str) -> bool:
    return court in courts_for(*SUPERVISORS)


def _int(name: str, errors: dict, minimum: int = 0) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < minimum:
        errors[name] = _("请输入不小于 %(n)s 的整数", n=minimum)
        return None
    return int(text)


def _role_label(role: str) -> str:
    zh, en = ROLES.get(role, (role, role))
    return en if current_language() == "en" else zh


def duration(seconds: float | None) -> str:
    """A time at a node, for people: hours under two days, else days."""
    if seconds is None:
        return ""
    hours = seconds / 3600
    if hours < 1:
        return _("%(n)s分钟", n=round(seconds / 60))
    if hours < 48:
        return _("%(n)s小时", n=f"{hours:.1f}")
    return _("%(n)s天", n=f"{hours / 24:.1f}")


def json_text(value) -> str:
    """A variable or event payload as readable JSON (Chinese as Chinese)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@bp.context_processor
def helpers():
    return {"role_label": _role_label, "status_labels": STATUS_LABELS, "job_kinds": JOB_KINDS, "roles": ROLES,
            "duration": duration, "json_text": json_text}


def _texts() -> dict:
    """Role and status labels translated once for a page that shows them on every row."""
    return {"role_text": defaultdict(str, {code: _role_label(code) for code in ROLES}),
            "status_text": {code: str(label) for code, label in STATUS_LABELS.items()}}


# -- the case and instance list ---------------------------------------------------------------------------------
def _filters() -> tuple[Filters, dict, list[str]]:
    """The list's filters from the query string, with a message per field that could not be read."""
    errors: dict = {}
    scope = _scope()
    court = request.args.get("court", "").strip()
    if court and court not in scope:
        errors["court"] = _("您不能查看该法院的案件")
    version = _int("version", errors, 1)
    idle = request.args.get("idle", "").strip()
    idle_days = 0 if idle == "limit" else _int("idle", errors, 1)
    status = request.args.get("status") or None
    if status and status not in STATUSES:
        errors["status"] = _("未知状态")
        status = None
    f = Filters(courts=tuple([court] if court and court in scope else scope),
                process_id=request.args.get("process") or None, version=version,
                stage=request.args.get("stage") or None, role=request.args.get("team") or None,
                officer=request.args.get("officer", "").strip() or None, status=status,
                overdue=_flag("overdue"), idle_days=idle_days, incident=_flag("incident"),
                case_no=request.args.get("q", "").strip() or None)
    return f, errors, scope


@bp.get("/instances")
@requires(*SUPERVISORS)
def instances():
    engine = _engine()
    filters, errors, scope = _filters()
    page = engine.supervision.instances(filters, page_number(request.args.get("page", 1)), PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("supervise/instances.html", page=page, filters=filters, errors=errors, scope=scope,
                           procedures=engine.supervision.procedures(), stages=engine.supervision.stages(scope),
                           idle_limits=engine.supervision.idle_limits(scope), args=args,
                           statuses=STATUSES, **_texts()), (400 if errors else 200)


CSV_COLUMNS = ("id", "case_no", "court", "process_id", "version", "status", "stage", "owner", "open_tasks",
               "teams", "due", "overdue", "incidents", "term_due_on", "started_at", "last_activity")


@bp.get("/instances.csv")
@requires(*SUPERVISORS)
def export():
    """The list with the same filters as CSV, written row by row while it is read (never all in memory)."""
    filters, errors, _scope_ = _filters()
    if errors:
        abort(400, "; ".join(f"{k}: {v}" for k, v in errors.items()))
    rows = _engine().supervision.export(filters)

    due_day = current_app.jinja_env.filters["due_day"]      # a deadline as officers read it (web/tasks.py)

    def local(moment):
        return moment.astimezone(COURT_TZ).strftime("%Y-%m-%d %H:%M") if moment else ""

    def cell(value) -> str:
        """A value as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
        text = "" if value is None else str(value)
        return "'" + text if text[:1] in ("=", "+", "-", "@") else text

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")               # Excel opens UTF-8 Chinese text correctly with a BOM
        writer.writerow(CSV_COLUMNS)
        for n, r in enumerate(rows):
            writer.writerow([cell(v) for v in (
                r.id, r.case_no, r.court, r.process_id, r.version, r.status, r.stage, r.owner,
                " / ".join(t.name for t in r.open_tasks), " / ".join(t.role for t in r.open_tasks),
                " / ".join(due_day(t.due_at) for t in r.open_tasks), int(r.overdue), r.incidents, r.term_due_on,
                local(r.started_at), local(r.last_activity))])
            if n % 200 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    name = f"instances-{_engine().clock.now().astimezone(COURT_TZ).date().isoformat()}.csv"
    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


# -- one instance -----------------------------------------------------------------------------------------------
@bp.get("/instances/<int:instance_id>")
@requires(*SUPERVISORS)
def instance(instance_id: int):
    engine = _engine()
    _reach(engine.supervision.instance_court(instance_id))
    detail = engine.supervision.instance(instance_id)
    failed = sorted({j.bpmn_id for j in detail.jobs if j.status == "incident" and j.bpmn_id})
    badges = [{"id": t.bpmn_id, "kind": "late" if t.overdue else "task",
               "text": (_("超期") + " · " if t.overdue else "") + (t.claimed_by or _role_label(t.role))}
              for t in detail.open_tasks]
    badges += [{"id": j.bpmn_id, "text": _("异常") if j.status == "incident" else
                j.due_at.astimezone(COURT_TZ).strftime("%m-%d %H:%M"),
                "kind": "failed" if j.status == "incident" else "timer"}
               for j in detail.jobs if j.bpmn_id and j.kind in ("timer", "service")
               and (j.status == "incident" or j.kind == "timer")]
    marks = {"completed": detail.completed, "active": list(detail.active), "failed": failed, "badges": badges}
    [audit] = engine.verify_audit(instance_id)
    return render_template("supervise/instance.html", d=detail, marks=marks,
                           variables=engine.variables(instance_id), events=engine.events(instance_id),
                           audit=audit, may_act=_may_act(detail.court), actions=ACTIONS)


@bp.get("/diagram/<process_id>/<int:version>.bpmn")
@requires(*SUPERVISORS)
def diagram(process_id: str, version: int):
    """The BPMN XML of a deployed version, for the viewer (the same for every court: no case data in it); lanes
    are named by their team in the reader's language (执行实施团队, not implementation_officer)."""
    column = 1 if current_language() == "en" else 0
    teams = {code: (TEAMS.get(code) or ROLES[code])[column] for code in ROLES}
    return Response(_engine().supervision.diagram(process_id, version, teams), mimetype="application/xml")


@bp.post("/instances/<int:instance_id>/<action>")
@requires(*SUPERVISORS)
def change_status(instance_id: int, action: str):
    engine = _engine()
    if action not in ACTIONS:
        abort(404)
    court = engine.supervision.instance_court(instance_id)
    _reach(court)
    if not _may_act(court):
        abort(403)
    reason = request.form.get("reason", "").strip()
    target = url_for(".instance", instance_id=instance_id)
    if not reason:
        flash(_("请填写%(action)s的理由", action=ACTIONS[action]), "error")
        return redirect(target + "#actions")
    try:
        getattr(engine, action)(instance_id, g.user, reason)
    except ZhixingError as exc:
        flash(str(exc), "error")
    else:
        flash(_("已%(action)s，理由已记入执行日志", action=ACTIONS[action]), "ok")
    return redirect(target)


# -- incidents --------------------------------------------------------------------------------------------------
@bp.get("/incidents")
@requires(*SUPERVISORS)
def incidents():
    scope = _scope()
    page = page_number(request.args.get("page", 1))
    rows, total = _engine().supervision.incidents(scope, page, PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("supervise/incidents.html", rows=rows, total=total, page=page, pages=pages,
                           own=courts_for(*SUPERVISORS), sub=_flag("sub"))


@bp.post("/incidents/<int:job_id>/retry")
@requires(*SUPERVISORS)
def retry(job_id: int):
    engine = _engine()
    court = engine.supervision.job_court(job_id)
    _reach(court)
    if not _may_act(court):
        abort(403)
    try:
        engine.retry_incident(job_id, g.user)
    except ZhixingError as exc:
        flash(str(exc), "error")
    else:
        flash(_("已重新排队，稍后由后台执行"), "ok")
    return redirect(safe_target(request.form.get("next", ""), url_for(".incidents")))


# -- heatmap ----------------------------------------------------------------------------------------------------
def _day(name: str, default: date, errors: dict) -> date:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[name] = _("日期格式应为 2026-05-04")
        return default
    if not FIRST_DAY <= day <= LAST_DAY:
        errors[name] = _("日期应在 %(first)s 至 %(last)s 之间", first=FIRST_DAY, last=LAST_DAY)
        return default
    return day


@bp.get("/heatmap")
@requires(*SUPERVISORS)
def heatmap():
    engine = _engine()
    errors: dict = {}
    procedures = engine.supervision.procedures()
    chosen = next((p for p in procedures if p.process_id == request.args.get("process")),
                  procedures[0] if procedures else None)
    version = _int("version", errors, 1)
    if chosen and version not in chosen.versions:
        version = None
    today = engine.clock.now().astimezone(COURT_TZ).date()
    end = _day("end", today, errors)
    start = _day("start", end - timedelta(days=29), errors)     # the last 30 days, as the monthly reviews
    heat, marks = None, {}
    if chosen:
        try:
            heat = engine.supervision.heatmap(_scope(), chosen.process_id, version, start, end)
        except ZhixingError as exc:
            errors["end"] = str(exc)
        else:
            marks = {"max": heat.max_waiting, "labels": {"waiting": _("在办"), "overdue": _("超期"),
                                                         "incidents": _("异常"), "median": _("中位"),
                                                         "timers": _("定时")}, "nodes": {
                k: {"waiting": n.waiting, "timers": n.timers, "overdue": n.overdue, "incidents": n.incidents,
                    "median": duration(n.median_s), "completed": n.completed} for k, n in heat.nodes.items()}}
    return render_template("supervise/heatmap.html", procedures=procedures, chosen=chosen, version=version,
                           start=start, end=end, heat=heat, marks=marks, table=_heat_table(heat), errors=errors,
                           sub=_flag("sub"),
                           diagram_version=version or (chosen.versions[-1] if chosen else None)), \
        (400 if errors else 200)


def _heat_table(heat) -> list:
    """Nodes with cases now or in the period, the most crowded first, then the slowest."""
    if heat is None:
        return []
    rows = [(k, n) for k, n in heat.nodes.items() if n.waiting or n.timers or n.completed]
    return sorted(rows, key=lambda kv: (-kv[1].waiting, -kv[1].timers, -(kv[1].median_s or 0), kv[0]))


# -- the execution log for process-mining tools -----------------------------------------------------------------
@bp.get("/log")
@requires(*SUPERVISORS)
def export_log():
    """执行日志 of one court, procedure and period as XES or OCEL 2.0, written while it is read
    (engine/workspaces/log_export.py). A GET that only reads: no CSRF token needed, as for the CSV export."""
    engine = _engine()
    errors: dict = {}
    today = engine.clock.now().astimezone(COURT_TZ).date()
    end = _day("to", today, errors)
    start = _day("from", end - timedelta(days=29), errors)
    court = request.args.get("court", "").strip()
    if not court:
        errors["court"] = _("请选择法院")
    else:
        _reach(court)                      # another court's log does not exist for this user
    if errors:
        abort(400, "; ".join(f"{k}: {v}" for k, v in errors.items()))
    try:
        export = engine.export_log(request.args.get("format", "xes"), court, request.args.get("process") or None,
                                   start, end)
    except ZhixingError as exc:
        abort(400, str(exc))
    ascii_name = f"zhixing-log-{start.isoformat()}-{end.isoformat()}.{export.filename.rsplit('.', 1)[1]}"
    return Response(stream_with_context(export.chunks), mimetype=export.mimetype, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(export.filename)}",
        "X-Zhixing-Instances": str(export.instances), "X-Zhixing-Events": str(export.events)})


# -- dashboard --------------------------------------------------------------------------------------------------
def _month(text: str | None, today: date) -> tuple[date, date]:
    try:
        first = date.fromisoformat(f"{text}-01") if text else today.replace(day=1)
    except ValueError:
        first = today.replace(day=1)
    if not FIRST_DAY <= first <= LAST_DAY:
        first = today.replace(day=1)
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, min(nxt - timedelta(days=1), max(today, first))


def _metrics(scope: list[str], today: date):
    """The chosen court's 执行质效指标 for the chosen month (engine/workspaces/metrics.py, docs/metrics.md)."""
    engine = _engine()
    if not scope:
        return None, None, None
    court = request.args.get("court") if request.args.get("court") in scope else scope[0]
    start, end = _month(request.args.get("month"), today)
    return engine.metrics(court, start, end, include_subordinates=_flag("sub")), court, start


@bp.get("/")
@requires(*SUPERVISORS)
def dashboard():
    engine = _engine()
    scope = _scope()
    board = engine.supervision.dashboard(scope)
    metrics, metrics_court, month = _metrics(scope, board.as_of)
    charts = _charts(board, metrics)
    return render_template("supervise/dashboard.html", board=board, scope=scope, charts=charts, metrics=metrics,
                           metrics_court=metrics_court, month=month, sub=_flag("sub"),
                           procedures=engine.supervision.procedures(), log_scope=engine.supervision.scope(
                               courts_for(*SUPERVISORS), True), log_to=board.as_of,
                           log_from=board.as_of - timedelta(days=29))


def _charts(board, metrics) -> dict:
    """ECharts options, built here so every label goes through the translation catalogue."""
    stages = sorted({stage for _name, stage, _n in board.backlog})
    names = sorted({name for name, _stage, _n in board.backlog})
    counts = {(name, stage): n for name, stage, n in board.backlog}
    teams = list(board.deadlines)
    axis = {"grid": {"left": 8, "right": 24, "containLabel": True}, "tooltip": {"trigger": "axis"}}
    charts = {
        "backlog": dict(axis, legend={"type": "scroll"}, xAxis={"type": "value", "minInterval": 1},
                        yAxis={"type": "category", "inverse": True,
                               "data": [stage_label(stage) or _("未标阶段") for stage in stages]},
                        series=[{"type": "bar", "stack": "p", "name": name,
                                 "data": [counts.get((name, stage), 0) for stage in stages]} for name in names]),
        "deadlines": dict(axis, legend={}, xAxis={"type": "category", "data": [_role_label(r) for r in teams]},
                          yAxis={"type": "value", "minInterval": 1},
                          series=[{"type": "bar", "stack": "t", "name": _("已超期"), "color": "#c62828",
                                   "data": [board.deadlines[r]["overdue"] for r in teams]},
                                  {"type": "bar", "stack": "t", "name": _("%(n)s日内到期", n=board.soon_days),
                                   "color": "#f9a825", "data": [board.deadlines[r]["soon"] for r in teams]}]),
        "term": {"tooltip": {"trigger": "item"}, "legend": {"bottom": 0},
                 "series": [{"type": "pie", "radius": ["35%", "65%"], "label": {"show": False}, "data": [
                     {"name": _("期限内"), "value": board.term["within"], "itemStyle": {"color": "#2e7d32"}},
                     {"name": _("已超执行期限"), "value": board.term["past"], "itemStyle": {"color": "#c62828"}},
                     {"name": _("未设期限"), "value": board.term["unset"], "itemStyle": {"color": "#9e9e9e"}}]}]},
    }
    ratios = [r for r in metrics.ratios if r.value is not None] if metrics is not None else []
    if ratios:
        charts["metrics"] = dict(axis, xAxis={"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
                                 yAxis={"type": "category", "inverse": True, "data": [r.label for r in ratios]},
                                 series=[{"type": "bar", "name": _("比率"), "color": "#1565c0",
                                          "data": [round(100 * r.value, 1) for r in ratios]}])
    return charts
