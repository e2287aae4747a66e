"""Cases for officers and supervisors: search by case number or party (``cases.index``) and the case page
(``cases.show``): parties and amounts, assets found and their control measures with expiry dates, case money,
generated documents (downloadable by users of the case's court only), open tasks, related cases and the
execution log (执行日志). Everything is limited to the courts where the user holds one of ``CASE_ROLES``; a case
of another court is "not found", never shown.
"""
from __future__ import annotations

import json

from flask import Blueprint, make_response, render_template, request, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.errors import NotFound
from web.auth import OFFICER_ROLES, courts_for, requires
from web.extension import engine
from web.security import page_number

bp = Blueprint("cases", __name__)

CASE_ROLES = OFFICER_ROLES + ("supervisor",)
PER_PAGE = 50

ACTIONS = {
    "instance_started": _l("立案 / 启动流程"), "task_completed": _l("完成任务"), "task_claimed": _l("认领任务"),
    "task_unclaimed": _l("放弃认领"), "task_reassigned": _l("改派任务"), "service_completed": _l("系统办理完成"),
    "timer_fired": _l("期限届满 / 定时触发"), "message_received": _l("收到消息"), "message_thrown": _l("发出消息"),
    "message_held": _l("消息暂存（案件中止中）"), "job_failed": _l("系统办理失败，将重试"),
    "incident_opened": _l("系统异常，待处理"), "incident_retried": _l("异常重试"),
    "instance_suspend": _l("中止"), "instance_resume": _l("恢复"), "instance_terminate": _l("终结"),
    "instance_terminated": _l("流程终止"), "instance_completed": _l("流程结束"),
    "instance_migrated": _l("迁移流程版本"),
}
CASE_TYPES = {"执": _l("执行实施"), "执恢": _l("恢复执行"), "执保": _l("财产保全执行"), "执异": _l("执行异议"),
              "执复": _l("执行复议"), "执监": _l("执行监督"), "执协": _l("执行协调"), "执他": _l("其他执行"),
              "破申": _l("破产审查")}
RELATIONS = {"parent": _l("本案所属案件"), "child": _l("由本案产生"), "called": _l("子流程")}
STATUSES = {"running": _l("进行中"), "suspended": _l("已中止"), "completed": _l("已结束"),
            "terminated": _l("已终止")}
# the stages a procedure keeps in its case fields (``stage``), and the coarse ones of public progress
STAGES = {
    "filing": _l("立案"), "start": _l("执行启动"), "control": _l("财产查控"), "realisation": _l("财产变现"),
    "payout": _l("案款发放"), "closing": _l("结案"), "closed": _l("已结案"), "suspended": _l("中止执行"),
    "in_progress": _l("办理中"), "concluded": _l("已办结"),
}
MEASURE_STATUSES = {"in_force": _l("有效"), "queued": _l("轮候"), "released": _l("已解除"), "lapsed": _l("已失效")}
# what of an event's data the log shows (the rest stays in the audit trail)
HIDDEN_DATA = {"court_settings", "definition"}



@bp.app_context_processor
def case_labels():
    return {"case_type_label": lambda code: CASE_TYPES.get(code, code or ""),
            "status_label": lambda status: STATUSES.get(status, status),
            "stage_label": stage_label}


def stage_label(stage: str | None) -> str:
    return str(STAGES.get(stage, stage or ""))


@bp.app_template_filter("compact_json")
def compact_json(value) -> str:
    """A value of an event's data as short text (Chinese as is, not as \\u escapes)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


@bp.get("/cases")
@requires(*CASE_ROLES)
def index():
    query = (request.args.get("q") or "").strip()[:100]
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    page = page_number(request.args.get("page", 1))
    found = engine().casework.find_cases(courts_for(*CASE_ROLES), query or None, status=status, page=page,
                                         per_page=PER_PAGE)
    params = {k: v for k, v in (("q", query), ("status", status)) if v}
    return render_template("officer/cases.html", found=found, query=query, status=status, params=params,
                           statuses=STATUSES, courts=courts_for(*CASE_ROLES))


@bp.get("/cases/<case_no>")
@requires(*CASE_ROLES)
def show(case_no: str):
    try:
        case = engine().casework.case(case_no, courts_for(*CASE_ROLES))
    except NotFound:
        return _not_found(case_no)
    # the verification code a party uses at /public (执行公开): officers print it on the notice
    public_code = engine().public_code(case_no) if case.court in courts_for(*OFFICER_ROLES) else None
    return render_template("officer/case.html", case=case, actions=ACTIONS, relations=RELATIONS,
                           measure_statuses=MEASURE_STATUSES, hidden=HIDDEN_DATA, public_code=public_code)


@bp.get("/cases/<case_no>/documents/<int:record_id>")
@requires(*CASE_ROLES)
def document(case_no: str, record_id: int):
    try:
        file = engine().casework.document(case_no, record_id, courts_for(*CASE_ROLES))
    except NotFound:
        return _not_found(case_no)
    return send_file(file, as_attachment=True, download_name=file.name,
                     mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document")


def _not_found(case_no: str):
    message = _("在你所在的法院没有找到案件 %(case)s（或没有该文书）。", case=case_no)
    return make_response(render_template("error.html", message=message), 404)
