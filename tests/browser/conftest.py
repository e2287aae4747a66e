"""Browser tests: the real application on a real SQLite file with the demo data, served on loopback with the
scheduler running, driven by Playwright in Debian's chromium (its own browser download cannot work here).

Each test module gets its own server and database (``live_server``), so journeys never see each other's changes.
Shared steps (``login``, ``screenshot``) are in ``journey.py``.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine import Engine
from engine.background.scheduler import start_background
from tools.demo import load_demo
from web import create_app

CHROMIUM = os.environ.get("ZHIXING_CHROMIUM", "/usr/bin/chromium")
# headless on a machine with no internet: keep chromium from calling home (see the env notes)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class LiveServer:
    def __init__(self, url: str, engine: Engine):
        self.url, self.engine = url, engine


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("live")
    os.environ["ZHIXING_SANDBOX_DIR"] = str(workdir / "sandbox")      # fresh external systems per module
    os.environ["ZHIXING_DOCUMENT_DIR"] = str(workdir / "documents")
    engine = Engine(f"sqlite:///{workdir / 'zhixing.db'}")
    engine.init_schema()
    load_demo(engine)
    engine.run_until_idle()
    app = create_app({"ENGINE": engine, "SECRET_KEY": "browser-tests", "TESTING": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheduler = start_background(engine)
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", engine)
    scheduler.shutdown(wait=False)
    server.shutdown()
    engine.close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), "
                    "or point ZHIXING_CHROMIUM at a chromium binary")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 1366, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
