"""Languages: Simplified Chinese by default, English on request (Flask-Babel).

Templates are written in Chinese, the language of the court; ``_()`` marks each text, and each area of the
application keeps the English translations of its texts in ``web/i18n/<area>/en/LC_MESSAGES/messages.po`` (one
catalogue per area, so areas never edit the same file; Flask-Babel merges them). A text without a translation
shows in Chinese. ``.mo`` files are compiled from the ``.po`` files at install time (``make install`` runs
``python -m web.i18n``; a wheel build does it in ``setup.py``), so nothing compiled is kept in git. An app that
finds them missing or stale compiles them beside the ``.po`` files, or, on a read-only install, into a directory
of its own: it always starts.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel

from web.security import safe_target

LANGUAGES = {"zh": "中文", "en": "English"}
ROOT = Path(__file__).parent / "i18n"

bp = Blueprint("i18n", __name__)


def catalogue_dirs(root: Path = ROOT) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


def stale_catalogues(root: Path = ROOT) -> list[Path]:
    """The ``.po`` files whose ``.mo`` is missing or older."""
    return [po for po in sorted(root.glob("*/*/LC_MESSAGES/messages.po"))
            if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime]


def compile_catalogues(root: Path = ROOT, target: Path | None = None) -> None:
    """Compile each stale ``.po`` of ``root`` into its ``.mo`` (under ``target``, mirroring ``root``, if given)."""
    for po in stale_catalogues(root) if target is None else sorted(root.glob("*/*/LC_MESSAGES/messages.po")):
        mo = (target / po.relative_to(root)).with_suffix(".mo") if target else po.with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as src:
            catalog = read_po(src)
        with mo.open("wb") as out:
            write_mo(out, catalog)


def catalogue_root(root: Path = ROOT) -> Path:
    """Where the compiled catalogues are: ``root`` when up to date (or made so), else a private copy."""
    if not stale_catalogues(root):
        return root
    try:
        compile_catalogues(root)
        return root
    except OSError:                      # a read-only install: compile into a directory of this process
        target = Path(tempfile.mkdtemp(prefix="zhixing-i18n-"))
        compile_catalogues(root, target)
        for po in root.glob("*/*/LC_MESSAGES/messages.po"):
            shutil.copy(po, target / po.relative_to(root))
        return target


def current_language() -> str:
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "zh"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(p) for p in catalogue_dirs(catalogue_root()))
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


if __name__ == "__main__":       # make install: compile the catalogues once, at install time
    compile_catalogues()
