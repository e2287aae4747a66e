"""Directory login on the login page: ``sign_in`` is what ``web/auth.py`` calls for a user name without a local
password (the rules are in ``engine/court/directory.py``; settings in docs/deployment.md, "Directory login")."""
from __future__ import annotations

import os

from flask import Flask, current_app
from flask_babel import gettext as _

from engine.court.directory import (DirectoryLogin, DirectoryUnavailable, NoRole, WrongCredentials,
                                    from_environ)


def init_app(app: Flask) -> None:
    """Read and check the settings once, at start: a wrong mapping stops the application with its message.
    ``app.config["LDAP"]`` (a dict of ``ZHIXING_LDAP_*`` values) replaces the environment, for tests."""
    env = app.config.get("LDAP")
    app.extensions["zhixing_directory"] = from_environ(os.environ if env is None else env)


def sign_in(username: str, password: str) -> tuple[str | None, str | None]:
    """``(user name to sign in, None)`` or ``(None, message)``; ``(None, None)`` when no directory is configured
    or the credentials are wrong, so the caller shows its own wrong-password message."""
    directory = current_app.extensions.get("zhixing_directory")
    if directory is None:
        return None, None
    try:
        return DirectoryLogin(current_app.extensions["zhixing"].executor, directory).login(username, password), None
    except WrongCredentials:
        return None, None
    except DirectoryUnavailable:
        return None, _("统一身份认证暂时无法连接，请稍后重试；本地账号仍可登录")
    except NoRole:
        return None, _("您的统一身份认证账号没有本系统的角色，请联系系统管理员")
