"""The navigation bar: each entry names its view, its label and the roles that see it. An entry whose view is not
registered (yet) is left out, so each area adds its pages by registering its blueprint."""
from __future__ import annotations

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from web.auth import OFFICER_ROLES, has_role

SUPERVISORS = ("supervisor", "command_centre")

NAV = [
    ("tasks.index", _l("我的待办"), OFFICER_ROLES),
    ("cases.index", _l("案件"), OFFICER_ROLES + SUPERVISORS),
    ("supervise.dashboard", _l("监督看板"), SUPERVISORS),
    ("supervise.instances", _l("流程实例"), SUPERVISORS),
    ("supervise.incidents", _l("异常"), SUPERVISORS),
    ("supervise.heatmap", _l("节点热力图"), SUPERVISORS),
    ("design.index", _l("流程设计"), ("designer",)),
    ("admin.users", _l("用户管理"), ("admin",)),
]


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation():
        views = current_app.view_functions
        return {"nav": [(endpoint, label) for endpoint, label, roles in NAV
                        if endpoint in views and has_role(*roles)]}
