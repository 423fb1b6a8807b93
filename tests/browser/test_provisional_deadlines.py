"""暂定 deadlines in real headless Chromium: the receipt of a case whose deadline rests on 2027 (no official holiday
schedule yet) says so, the kiosk too; once timing revises it, the reprinted receipt shows the corrected date and
the operator's case page shows the correction on its clocks and timeline.

A gateway of its own namespace is served; this test publishes the other services' events for the case.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from services.gateway.app import create_app
from shared import topics
from shared.settings import HallSettings
from tests.browser.pages import login, snap
from tests.halls import fresh_settings, serving
from tests.journeys import auth
from tests.provisional_events import CASE_NO, CLERK, SCENARIO_NOW, Publisher, accepted, as_of, revised, started
from tests.support import eventually

ID_NUMBER = "150525199001011237"


@pytest.fixture(scope="module")
async def gateway(settings: HallSettings) -> AsyncIterator[tuple[str, Publisher]]:
    own = await fresh_settings(settings)
    with as_of(SCENARIO_NOW):
        async with serving(create_app(own)) as base_url, Publisher(own) as publisher:
            yield base_url, publisher


async def timeline_has(base_url: str, text: str) -> bool | None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.get(f"/api/cases/{CASE_NO}", headers=auth("op-qian"))
    if answer.status_code != 200:
        return None
    return any(text in e["summary"] for e in answer.json()["timeline"]) or None


async def test_a_provisional_receipt_and_the_case_page_after_the_revision(
    page: Page, browser: Browser, gateway: tuple[str, Publisher]
) -> None:
    site, bus = gateway
    await bus.send(topics.INTAKE_EVENTS, accepted(), actor=CLERK)
    await bus.send(topics.TIMING_EVENTS, started())
    await eventually(lambda: timeline_has(site, "承诺办结时间"))

    await login(page, site, "clerk-zhang")
    await page.goto(f"{site}/desk/cases/{CASE_NO}")
    promised = page.locator("#promised-deadline")
    await expect(promised).to_have_text("2027-01-04 17:30（暂定，以国务院公布的放假安排为准）")
    await expect(promised).to_have_attribute("data-provisional", "2027")
    await snap(page, "provisional-receipt")

    terminal = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    try:
        kiosk = await terminal.new_page()
        await login(kiosk, site, "kiosk-01")
        await kiosk.click("#tab-lookup")
        await kiosk.fill("#l-case", CASE_NO)
        await kiosk.fill("#l-id", ID_NUMBER)
        await kiosk.press("#l-id", "Enter")
        await expect(kiosk.locator("#l-deadline")).to_contain_text("（暂定，以国务院公布的放假安排为准）")
        await expect(kiosk.locator("#l-limit")).to_have_text(re.compile(r"^办理时限：正常，剩余 \d+\.\d 个工作日$"))
        await snap(kiosk, "provisional-kiosk")
    finally:
        await terminal.close()

    operator = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    board = await operator.new_page()
    await login(board, site, "op-qian", "/sla")
    banner = board.locator("#provisional-banner")
    await expect(banner).to_have_text("2027 年的放假安排尚未公布，相关期限为暂定")
    await expect(board.locator(f'#closest tr[data-case="{CASE_NO}"] .provisional')).to_have_text("暂定")
    await snap(board, "provisional-board")

    # 2027's official schedule is loaded: timing revises the case's clock once.
    await bus.send(topics.TIMING_EVENTS, revised(retracted=["预警"], status_before="预警", status_after="正常"))
    await eventually(lambda: timeline_has(site, "期限更正"))

    # The live board (pushed to the page) drops the banner and shows the correction.
    await expect(banner).to_be_hidden()
    row = board.locator(f'#closest tr[data-case="{CASE_NO}"]')
    await expect(row.locator(".correction")).to_contain_text("原 预警，按正式放假安排更正为 正常")
    await expect(row).not_to_contain_text("暂定")
    await operator.close()

    await page.reload()
    await expect(promised).to_contain_text("2027-01-06 17:30")
    await expect(promised).not_to_contain_text("暂定")
    await expect(page.locator("#deadline-revised")).to_have_text("（2027 年放假安排公布后更正，原为 2027-01-04 17:30）")
    await snap(page, "revised-receipt")

    await page.context.clear_cookies()  # the operator signs in at the same browser
    await login(page, site, "op-qian", f"/sla/cases/{CASE_NO}")
    await expect(page.locator("#timeline")).to_contain_text(
        "期限更正：2027-01-04 17:30 → 2027-01-06 17:30（2027 年放假安排已公布，按正式安排重新计算；已撤回预警）"
    )
    clock = page.locator("#clocks .correction")
    await expect(clock).to_have_text("更正：原 预警，按正式放假安排更正为 正常（原期限 2027-01-04 17:30）")
    await expect(page.locator("#clocks")).not_to_contain_text("暂定")
    await snap(page, "revised-case-page")
