"""Administration (系统管理), for users holding the ``admin`` role: accounts (create with a hashed password, roles
per court, deactivate, reset the password), API tokens (create, shown once; revoke) and sign-in security (the
lockouts in force, lifted here, and the sign-in log).

An administrator manages the courts where they hold ``admin`` and nothing else (``engine/workspaces/admin.py``): another
court's users are not listed, and a token they create is limited to their courts.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.security import generate_password_hash

from engine import MIN_PASSWORD, ROLES, Forbidden, InvalidInput, NotFound, ZhixingError, lockout
from web.auth import courts_for, requires
from web.extension import engine
from web.security import page_number, safe_target

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50



def my_courts() -> list[str]:
    return courts_for("admin")


def _grants(courts) -> list[tuple[str, str]]:
    """The ``court|role`` checkboxes ticked in the form."""
    out = []
    for value in request.form.getlist("grant"):
        court, _sep, role = value.partition("|")
        if court not in courts or role not in ROLES:
            abort(400)
        out.append((court, role))
    return out


def _password_hash(errors: dict) -> str | None:
    password = request.form.get("password", "")
    if len(password) < MIN_PASSWORD:
        errors["password"] = _("密码至少 %(n)d 个字符", n=MIN_PASSWORD)
        return None
    return generate_password_hash(password)


def _user_or_404(username: str):
    try:
        return engine().admin.user(username, my_courts())
    except NotFound:
        abort(404)


@bp.route("/users", methods=["GET", "POST"])
@requires("admin")
def users():
    courts, errors, form = my_courts(), {}, {}
    if request.method == "POST":
        form = request.form
        password_hash = _password_hash(errors)
        try:
            created = engine().admin.create_user(form.get("username", ""), form.get("display_name", ""),
                                                 password_hash, _grants(courts), courts, g.user)
        except InvalidInput as exc:
            errors = {**exc.field_errors, **errors}
        else:
            flash(_("已创建用户 %(name)s", name=created.username), "ok")
            return redirect(url_for(".user", username=created.username))
    page = page_number(request.args.get("page", 1))
    query = (request.args.get("q") or "").strip()[:64]
    found = engine().admin.users(courts, query or None, page, PER_PAGE)
    return render_template("admin/users.html", found=found, query=query, courts=courts, roles=ROLES,
                           errors=errors, form=form), (422 if errors else 200)


@bp.get("/users/<username>")
@requires("admin")
def user(username: str):
    return _user_page(_user_or_404(username))


def _user_page(row, errors=None, secret=None, status=200):
    courts = my_courts()
    tokens = engine().tokens.list(courts, username=row.username)
    return render_template("admin/user.html", row=row, courts=courts, roles=ROLES, errors=errors or {},
                           tokens=tokens, secret=secret, now=engine().clock.now()), status


@bp.post("/users/<username>/roles")
@requires("admin")
def roles(username: str):
    _user_or_404(username)
    engine().admin.set_roles(username, _grants(my_courts()), my_courts(), g.user)
    flash(_("角色已保存"), "ok")
    return redirect(url_for(".user", username=username))


@bp.post("/users/<username>/active")
@requires("admin")
def active(username: str):
    _user_or_404(username)
    activate = request.form.get("active") == "1"
    try:
        engine().admin.set_active(username, activate, my_courts(), g.user)
    except (Forbidden, InvalidInput) as exc:
        flash(str(exc), "error")
    else:
        flash(_("已启用") if activate else _("已停用：该用户不能再登录，其接口令牌失效"), "ok")
    return redirect(url_for(".user", username=username))


@bp.post("/users/<username>/password")
@requires("admin")
def password(username: str):
    row = _user_or_404(username)
    errors: dict = {}
    password_hash = _password_hash(errors)
    if errors:
        return _user_page(row, errors, status=422)
    try:
        engine().admin.set_password(username, password_hash, my_courts(), g.user)
    except Forbidden as exc:
        flash(str(exc), "error")
    else:
        flash(_("密码已重置"), "ok")
    return redirect(url_for(".user", username=username))


@bp.post("/users/<username>/tokens")
@requires("admin")
def create_token(username: str):
    """Create a token and show its secret in this one response (it is never stored, never shown again)."""
    row = _user_or_404(username)
    courts = my_courts()
    scope_courts = [c for c in request.form.getlist("court") if c in courts]
    scope_roles = [r for r in request.form.getlist("role") if r in ROLES]
    errors = {}
    if not scope_courts:
        errors["court"] = _("至少选择一个法院")
    days = request.form.get("days", "").strip()
    if days and (not days.isdigit() or int(days) < 1):
        errors["days"] = _("有效天数须为正整数，或留空表示长期有效")
    if not errors:
        try:
            view, secret = engine().tokens.create(username, request.form.get("name", ""), g.user, scope_roles,
                                                  scope_courts, int(days) if days else None)
        except InvalidInput as exc:
            errors = exc.field_errors
        else:
            flash(_("已创建接口令牌 %(name)s；令牌只显示这一次，请立即复制保存", name=view.name), "ok")
            return _user_page(row, secret=secret)
    return _user_page(row, errors, status=422)


@bp.get("/tokens")
@requires("admin")
def tokens():
    return render_template("admin/tokens.html", tokens=engine().tokens.list(my_courts()), now=engine().clock.now())


@bp.post("/tokens/<int:token_id>/revoke")
@requires("admin")
def revoke(token_id: int):
    visible = {t.id: t for t in engine().tokens.list(my_courts())}
    if token_id not in visible:
        abort(404)
    try:
        engine().tokens.revoke(token_id, g.user)
    except ZhixingError as exc:
        flash(str(exc), "error")
    else:
        flash(_("令牌 %(name)s 已吊销", name=visible[token_id].name), "ok")
    return redirect(safe_target(request.form.get("next", ""), url_for(".tokens")))


AUTH_KINDS = {lockout.FAILED: _l("登录失败"), lockout.REFUSED: _l("锁定中拒绝登录"), lockout.OK: _l("登录成功"),
              lockout.LOGOUT: _l("退出登录"), lockout.LIFTED: _l("解除锁定")}


@bp.get("/security")
@requires("admin")
def security():
    """The lockouts an administrator may lift (their users' accounts, unknown names, every address) and the
    sign-in log of their users."""
    signin = engine().signin
    return render_template("admin/security.html", locks=signin.locks(my_courts()),
                           events=signin.recent(my_courts()), kinds=AUTH_KINDS,
                           window=int(lockout.WINDOW.total_seconds() // 60), account_limit=lockout.ACCOUNT_LIMIT,
                           address_limit=lockout.ADDRESS_LIMIT)


@bp.post("/security/lift")
@requires("admin")
def lift():
    kind, key = request.form.get("kind", ""), request.form.get("key", "")
    if kind not in ("account", "address") or not engine().signin.lift(kind, key, my_courts(), g.user):
        abort(404)
    flash(_("已解除 %(key)s 的锁定", key=key), "ok")
    return redirect(url_for(".security"))
