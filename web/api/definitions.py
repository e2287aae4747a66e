"""Deployed procedures, and deploying new versions (designers only): the files of one deployment set (.bpmn,
.dmn, form .json) as a multipart upload, validated before anything is stored."""
from __future__ import annotations

import re

from flask import current_app, g, request

from engine import ROLES
from web.api.base import ApiError, bp, engine, pick, require

FILE_NAME = re.compile(r"^[\w\u4e00-\u9fff.-]{1,200}\.(bpmn|dmn|json)$")
MAX_UPLOAD = 10 * 1024 * 1024          # bytes; the app config API_MAX_UPLOAD overrides it


@bp.get("/definitions")
def list_definitions():
    courts = require(*ROLES)
    return {"items": [dict(pick(p, "process_id", "name"),
                           versions=[pick(v, "version", "name", "created_at", "deployed_by", "running")
                                     for v in p.versions])
                      for p in engine().design.procedures(courts)]}


@bp.post("/definitions")
def deploy():
    require("designer")
    request.max_content_length = current_app.config.get("API_MAX_UPLOAD", MAX_UPLOAD)
    uploads = request.files.getlist("files")
    if not uploads:
        raise ApiError(422, "invalid", "nothing deployed", {"files": "send the files as multipart 'files' parts"})
    bad = [u.filename for u in uploads if not FILE_NAME.match(u.filename or "")]
    if bad:
        raise ApiError(422, "invalid", "nothing deployed",
                       {"files": f"not a .bpmn, .dmn or .json file name: {', '.join(map(str, bad))}"})
    views = engine().deploy({u.filename: u.read() for u in uploads}, actor=g.user)
    return {"items": [pick(v, "process_id", "version", "name", "created") for v in views]}, 201
