"""Browser tests: real headless Chromium (Debian's package) driven by Playwright, against a served hall."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright

from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall


def chromium_path() -> str:
    path = os.environ.get("HALL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("没有找到 Chromium：请运行 deploy/chromium.sh install（./hall test 会自动安装）")
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
async def served(settings: HallSettings) -> AsyncIterator[InProcessHall]:
    """A hall of its own namespace, served over real HTTP for the browser."""
    async with in_process_hall(await fresh_settings(settings), serve=True) as running:
        yield running


@pytest.fixture(scope="session")
def site(served: InProcessHall) -> str:
    return served.base_url


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()
