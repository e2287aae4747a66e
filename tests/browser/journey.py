"""Steps that browser journeys share: log in, take the screenshots kept in ``docs/screenshots/``."""
from __future__ import annotations

import os
from pathlib import Path

from tools.demo import DEMO_PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def login(page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"login as {username} failed"


def screenshot(page, name: str) -> None:
    if os.environ.get("ZHIXING_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
