"""The engine as a Flask extension: ``init_app`` attaches it to the app, ``engine()`` returns it in a request.

The one accessor every blueprint uses (the web layer reaches the engine only through its facade).
"""
from __future__ import annotations

from flask import Flask, current_app

from engine import Engine

KEY = "zhixing"


def init_app(app: Flask, engine: Engine | None = None) -> Engine:
    """Attach ``engine`` (default: ``ENGINE`` from the config, else a new one on ``DATABASE_URL``)."""
    engine = engine or app.config.get("ENGINE") or Engine(app.config["DATABASE_URL"])
    app.extensions[KEY] = engine
    return engine


def engine() -> Engine:
    return current_app.extensions[KEY]
