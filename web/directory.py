"""The login page's sign-in: a local account by its password, else the court's directory when one is configured
(the rules are in ``engine/court/directory.py``; settings in docs/deployment.md, "Directory login")."""
from __future__ import annotations

import os

from flask import Flask
from flask_babel import gettext as _

from engine import ZhixingError
from web.extension import engine


def init_app(app: Flask) -> None:
    """Read and check the directory settings once, at start: a wrong mapping stops the application with its
    message. ``app.config["LDAP"]`` (a dict of ``ZHIXING_LDAP_*`` values) replaces the environment, for tests."""
    env = app.config.get("LDAP")
    app.extensions["zhixing"].use_directory(os.environ if env is None else env)


def sign_in(username: str, password: str) -> tuple[tuple[str, int] | None, str | None]:
    """``((user name, session epoch), None)`` to sign in, or ``(None, message)``; ``(None, None)`` for a wrong
    name or password, so the caller shows its own wrong-password message."""
    try:
        return engine().sign_in(username, password), None
    except ZhixingError as exc:
        if exc.code == "directory.unavailable":
            return None, _("统一身份认证暂时无法连接，请稍后重试；本地账号仍可登录")
        if exc.code == "directory.no_role":
            return None, _("您的统一身份认证账号没有本系统的角色，请联系系统管理员")
        raise
