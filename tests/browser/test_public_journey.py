"""A party follows its case at /public (执行公开); an administrator creates a user and an API token for it."""
from __future__ import annotations

import re

from journey import login, screenshot

CASE = "（2026）川0104执3号"          # demo case whose enforcement notice was served


def test_a_party_looks_up_its_case_with_a_wrong_then_the_right_code(page, live_server):
    code = live_server.engine.public_code(CASE)       # what the officer prints on the notice
    page.goto("/public")
    assert "案件进度查询" in page.locator("h1").inner_text()
    page.get_by_test_id("public-case-no").fill(CASE)
    page.get_by_test_id("public-code").fill("AAAA-BBBB")
    page.get_by_test_id("public-submit").click()
    assert "查询码不正确" in page.get_by_test_id("public-error").inner_text()
    page.get_by_test_id("public-code").fill(code.lower())
    page.get_by_test_id("public-submit").click()
    page.wait_for_url("**/public/case")
    assert page.get_by_test_id("public-case-no-shown").inner_text() == CASE
    assert page.get_by_test_id("public-stage").inner_text() == "执行启动"            # the start stage: notice served
    assert page.get_by_test_id("public-notice").inner_text().startswith("20")      # a date
    assert "执行通知书" in page.get_by_test_id("public-documents").inner_text()
    assert "李某" not in page.content() and "120000" not in page.content()      # the debtor and the amount stay private
    screenshot(page, "public-case")


def test_an_administrator_creates_a_user_and_an_api_token(page, live_server):
    login(page, "admin")
    page.goto("/admin/users")
    assert page.get_by_test_id("user-list").get_by_text("chengban").is_visible()
    page.get_by_test_id("new-username").fill("jiekou")
    page.get_by_test_id("new-display-name").fill("接口 账号")
    page.get_by_test_id("new-password").fill("short")
    page.get_by_test_id("grant-川0104-clerk").check()
    page.get_by_test_id("create-user-submit").click()
    assert "8" in page.get_by_test_id("error-password").inner_text()
    page.get_by_test_id("new-password").fill("jiekou-password")
    page.get_by_test_id("grant-川0104-clerk").check()
    page.get_by_test_id("create-user-submit").click()
    page.wait_for_url(re.compile(r".*/admin/users/jiekou(#.*)?$"))
    page.get_by_test_id("token-name").fill("诉讼服务平台")
    page.get_by_test_id("create-token-submit").click()
    secret = page.get_by_test_id("token-secret").inner_text()
    assert secret.startswith("zx_")
    screenshot(page, "admin-token")
    me = page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.ok and me.json()["username"] == "jiekou"
    page.goto("/admin/users/jiekou")
    assert secret not in page.content()                      # shown once only
    page.goto("/admin/users")
    screenshot(page, "admin-users")
