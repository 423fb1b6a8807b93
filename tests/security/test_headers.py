"""Every answer carries the hall's security headers (issue 11, item 7), and no page needs an exception to them:
no inline script, no inline style, no inline event handler."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import pytest
from playwright.async_api import ConsoleMessage, Page, async_playwright

from services.gateway.security_headers import CSP
from shared.settings import HallSettings
from tests.browser.conftest import chromium_path
from tests.browser.pages import login
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import CLERK, KIOSK, STAFF, auth

pytestmark = pytest.mark.integration

OPERATOR = auth("op-qian")
PAD = auth("pad-01")
EXPECTED = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
PAGES = [
    ("/login", {}),
    ("/public/ratings", {}),
    ("/desk", CLERK),
    ("/desk/cases", CLERK),
    ("/desk/delivery", CLERK),
    ("/catalogue", CLERK),
    ("/projects", CLERK),
    ("/kiosk", KIOSK),
    ("/workbench", STAFF),
    ("/sla", OPERATOR),
    ("/ratings/desk", OPERATOR),
    ("/ratings/stats", OPERATOR),
    ("/pad", PAD),
]
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "a style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
]


def test_the_policy_allows_only_the_halls_own_scripts_and_styles() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'"


@pytest.mark.parametrize(("path", "headers"), PAGES)
async def test_a_page_has_the_headers_and_nothing_inline(
    hall: InProcessHall, path: str, headers: dict[str, str]
) -> None:
    response = await hall.client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name
    for pattern, what in INLINE:
        found = pattern.search(response.text)
        assert found is None, f"{path} has {what}: {found.group(0) if found else ''}"


async def test_the_api_has_the_headers_on_answers_and_refusals(hall: InProcessHall) -> None:
    answered = await hall.client.get("/api/catalogue?q=登记", headers=CLERK)
    refused = await hall.client.get("/api/catalogue?q=登记")
    static = await hall.client.get("/static/hall.js")
    assert (answered.status_code, refused.status_code, static.status_code) == (200, 401, 200)
    for response in (answered, refused, static):
        for name, value in EXPECTED.items():
            assert response.headers.get(name) == value, (response.url, name)


BROWSED = {
    "clerk-zhang": ["/desk", "/desk/cases", "/desk/delivery", "/catalogue", "/projects", "/kiosk"],
    "kiosk-01": ["/kiosk"],
    "zrzy-li": ["/workbench"],
    "op-qian": ["/sla", "/ratings/desk", "/ratings/stats"],
    "pad-01": ["/pad"],
}


@pytest.fixture(scope="module")
async def served(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    async with in_process_hall(await fresh_settings(settings), serve=True) as running:
        yield running


def listener(violations: list[str], page: Page) -> Callable[[ConsoleMessage], None]:
    """Chromium says "Refused to … because it violates the following Content Security Policy directive"."""

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    return on_console


@pytest.mark.browser
async def test_chromium_reports_no_csp_violation_on_any_page(served: InProcessHall) -> None:
    """Headless Chromium enforces the policy: a blocked inline script or style shows as a console error."""
    violations: list[str] = []
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            for user_id, paths in BROWSED.items():
                context = await chromium.new_context(locale="zh-CN")
                page = await context.new_page()
                page.on("console", listener(violations, page))
                await login(page, served.base_url, user_id)
                for path in paths:
                    await page.goto(served.base_url + path)
                    await page.wait_for_load_state("networkidle")
                await context.close()
        finally:
            await chromium.close()
    assert not violations, "\n".join(violations)
