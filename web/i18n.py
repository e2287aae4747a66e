"""Languages: Simplified Chinese by default, English on request (Flask-Babel).

Templates are written in Chinese, the language of the court; ``_()`` marks each text, and each area of the
application keeps the English translations of its texts in ``web/i18n/<area>/en/LC_MESSAGES/messages.po`` (one
catalogue per area, so areas never edit the same file; Flask-Babel merges them). A text without a translation
shows in Chinese. ``.mo`` files are compiled from the ``.po`` files when the application starts, so nothing
compiled is kept in git.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel

from web.security import safe_target

LANGUAGES = {"zh": "中文", "en": "English"}
ROOT = Path(__file__).parent / "i18n"

bp = Blueprint("i18n", __name__)


def catalogue_dirs() -> list[Path]:
    return sorted(p for p in ROOT.iterdir() if p.is_dir())


def compile_catalogues() -> None:
    """Compile each ``.po`` into its ``.mo`` when the ``.mo`` is missing or older."""
    for po in ROOT.glob("*/*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as src:
                catalog = read_po(src)
            with mo.open("wb") as out:
                write_mo(out, catalog)


def current_language() -> str:
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "zh"


def init_app(app: Flask) -> None:
    compile_catalogues()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(p) for p in catalogue_dirs())
    Babel(app, locale_selector=current_language)
    app.register_blueprint(bp)

    @app.context_processor
    def languages():
        return {"languages": LANGUAGES, "current_language": current_language()}


@bp.post("/language/<code>")
def choose(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_target(request.form.get("next", "/"), "/"))
