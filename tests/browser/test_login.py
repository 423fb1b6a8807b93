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


async def test_the_cookie_is_httponly_strict_and_dead_after_logout(page: Page, site: str) -> None:
    await login(page, site, "clerk-zhang", next_path="/desk")
    cookies = [c for c in await page.context.cookies() if c["name"] == "hall_session"]
    assert len(cookies) == 1
    session = cookies[0]
    assert session.get("httpOnly") is True
    assert session.get("sameSite") == "Strict"
    assert await page.evaluate("document.cookie") == ""  # scripts on the page cannot read it
    await page.click("header.top button:has-text('退出')")  # a same-origin form post: the CSRF check lets it pass
    await page.wait_for_url(f"{site}/login")
    # The logged-out cookie, put back by hand (as a thief who copied it would), no longer opens the desk.
    await page.context.add_cookies([{"name": session["name"], "value": session["value"], "url": site}])
    await page.goto(f"{site}/desk")
    assert "/login" in page.url
