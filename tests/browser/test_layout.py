"""Every user: login, the navigation their roles allow, the language switch, errors as pages."""
from __future__ import annotations

from journey import login, screenshot


def test_login_page_then_tasks_in_chinese_and_english(page):
    page.goto("/")
    assert "/login" in page.url
    screenshot(page, "login")
    login(page, "chengban")
    assert page.get_by_test_id("current-user").inner_text() == "chengban"
    assert page.locator("nav").get_by_text("我的待办").is_visible()
    page.get_by_test_id("switch-language").click()
    assert page.locator("nav").get_by_text("My tasks").is_visible()
    page.get_by_test_id("switch-language").click()
    assert page.locator("nav").get_by_text("我的待办").is_visible()


def test_unknown_page_is_a_page_not_a_trace(page):
    login(page, "chengban")
    response = page.goto("/no/such/page")
    assert response.status == 404
    assert "页面不存在" in page.locator("[role=alert]").inner_text()
