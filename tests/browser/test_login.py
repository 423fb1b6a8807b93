"""Signing in and out in a real browser."""

from __future__ import annotations

from playwright.async_api import Page

from tests.browser.pages import login, snap


async def test_a_wrong_password_is_refused_and_the_right_one_signs_in(page: Page, site: str) -> None:
    await page.goto(f"{site}/login")
    await page.fill("#user_id", "clerk-zhang")
    await page.fill("#password", "wrong")
    await page.press("#password", "Enter")
    assert "用户名或口令不正确" in await page.inner_text("[role=alert]")
    await snap(page, "login-refused")
    await login(page, site, "clerk-zhang", next_path="/public/ratings")
    assert "张敏" in await page.inner_text("header.top")
    await page.click("header.top button:has-text('退出')")
    await page.wait_for_url(f"{site}/login")
