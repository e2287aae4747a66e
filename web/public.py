"""Public case progress (执行公开), for the parties, without an account: enter the case number and the
verification code printed on the notice, see the case's stage, key dates and the documents served on the
parties, and download those the court generated. Nothing else is shown (see ``engine/workspaces/public.py``).

A successful lookup is remembered in the session for ``VERIFIED_FOR`` so the result page and its downloads need
no second lookup; lookups are limited per client address (429 with a message).
"""
from __future__ import annotations

import time

from flask import Blueprint, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _

from engine import TooManyLookups
from engine.errors import NotFound
from web.cases import STAGES
from web.extension import engine

bp = Blueprint("public", __name__, url_prefix="/public")

VERIFIED_FOR = 30 * 60          # seconds a successful lookup is remembered



def verified_case() -> str | None:
    found = session.get("public_case")
    if not found or found.get("until", 0) < time.time():
        return None
    return found.get("case_no")


@bp.route("", methods=["GET", "POST"])
def lookup():
    error, status = None, 200
    case_no = request.form.get("case_no", "").strip()[:64]
    if request.method == "POST":
        try:
            case = engine().public.lookup(case_no, request.form.get("code", ""), request.remote_addr or "unknown")
        except TooManyLookups:
            error, status = _("查询过于频繁，请一分钟后再试"), 429
        else:
            if case is not None:
                session["public_case"] = {"case_no": case.case_no, "until": time.time() + VERIFIED_FOR}
                return redirect(url_for(".case"))
            error, status = _("案号或查询码不正确，请核对执行通知书上的案号和查询码"), 404
    return render_template("public/lookup.html", error=error, case_no=case_no), status


@bp.get("/case")
def case():
    case_no = verified_case()
    if case_no is None:
        return redirect(url_for(".lookup"))
    view = engine().public.case(case_no)
    return render_template("public/case.html", case=view, stage=STAGES.get(view.stage, view.stage))


@bp.get("/case/documents/<int:index>")
def document(index: int):
    case_no = verified_case()
    if case_no is None:
        return redirect(url_for(".lookup"))
    try:
        served, file = engine().public.document(case_no, index)
    except NotFound:
        return render_template("error.html", message=_("该文书无法下载")), 404
    return send_file(file, as_attachment=True, download_name=f"{served.name}{file.suffix}")


@bp.post("/leave")
def leave():
    session.pop("public_case", None)
    return redirect(url_for(".lookup"))
