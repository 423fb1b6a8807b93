"""时限监控 in real headless Chromium: a case on the live board turns from 正常 to 预警 to 逾期 as the hall's time
moves (a ManualClock given to a hall of its own — timing raises the alerts; the board is pushed to the page)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect
from redis.asyncio import Redis

from services.timing.store import Keys, store_year
from services.timing.yearfile import read_year_file
from shared.clock import SYSTEM_CLOCK, ManualClock
from shared.settings import HallSettings
from tests.browser.pages import login, snap
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import auth
from tests.support import eventually

EXAMPLE_2027 = Path(__file__).resolve().parents[2] / "data" / "calendar" / "2027.example.toml"
OPERATOR = auth("op-qian")
APPLICATION: dict[str, Any] = {
    "item_code": "11150525000121001",  # 新建商品房买卖合同网签备案: promised 1 working day
    "applicant": {"name": "钱多多", "id_type": "居民身份证", "id_number": "150525199001011237"},
    "materials": ["M01", "M02"],
    "channel": "window",
}


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(SYSTEM_CLOCK.now())


@pytest.fixture(scope="module")
async def timed(settings: HallSettings, clock: ManualClock) -> AsyncIterator[InProcessHall]:
    """A hall of its own whose timing keeps the ManualClock's time."""
    own = await fresh_settings(settings)
    redis = Redis.from_url(own.redis_url)
    try:
        # Near the year's end a deadline can reach next year: give this hall the example year, as an operator would.
        await store_year(redis, Keys(own), read_year_file(EXAMPLE_2027))
    finally:
        await redis.aclose()
    async with in_process_hall(own, clock=clock, serve=True) as hall:
        yield hall


async def board_row(hall: InProcessHall, case_no: str) -> dict[str, Any] | None:
    response = await hall.client.get("/api/sla/board", headers=OPERATOR)
    assert response.status_code == 200, response.text
    view = response.json()
    rows = [r for part in ("closest", "warnings", "overdue") for r in view[part] if r["case_no"] == case_no]
    return rows[0] if rows else None


async def test_a_case_turns_from_normal_to_warning_to_overdue_on_the_live_board(
    timed: InProcessHall, clock: ManualClock, page: Page
) -> None:
    submitted = await timed.client.post("/api/cases", json=APPLICATION, headers=auth("clerk-zhang"))
    assert submitted.status_code == 201, submitted.text
    case_no = submitted.json()["case_no"]
    row = await eventually(lambda: board_row(timed, case_no), timeout_s=30)
    assert row["status"] == "正常"
    deadline = datetime.fromisoformat(row["deadline"])

    await login(page, timed.base_url, "op-qian", "/sla")
    assert page.url.endswith("/sla")
    await expect(page.locator("h1")).to_have_text("时限监控")
    normal = page.locator(f'#closest tr[data-case="{case_no}"] .status')
    await expect(normal).to_have_text("正常")
    await expect(page.locator("#live")).to_contain_text("实时更新")  # the stream is connected
    await snap(page, "sla-1-normal")

    # A working day's office time before the deadline: timing raises 预警 and the board is pushed to the page.
    clock.set(deadline - timedelta(minutes=30))
    warned = page.locator(f'#warnings tr[data-case="{case_no}"] .status')
    await expect(warned).to_have_text("预警", timeout=20_000)
    await expect(page.locator(f'#closest tr[data-case="{case_no}"]')).to_have_count(1)  # still the closest to run out
    await expect(page.locator("#totals [data-count=warning]")).to_have_text("1")
    await snap(page, "sla-2-warning")

    clock.set(deadline + timedelta(minutes=1))
    overdue = page.locator(f'#overdue tr[data-case="{case_no}"] .status')
    await expect(overdue).to_have_text("逾期", timeout=20_000)
    await expect(page.locator(f'#warnings tr[data-case="{case_no}"]')).to_have_count(0)
    await expect(page.locator("#totals [data-count=overdue]")).to_have_text("1")
    await expect(page.locator("#by-department tbody tr").first).to_contain_text("住建局")
    await expect(page.locator("#by-clerk tbody tr").first).to_contain_text("张敏")
    await snap(page, "sla-3-overdue")

    # 近 30 日趋势 (drawn when the page loads; its counts are held to the board's handlers in test_sla_daily.py):
    # two charts of the last 30 days of the gateway's clock, for the board's filters.
    trend = page.locator("#trend")
    await expect(trend.locator("figure.chart")).to_have_count(2)
    await expect(trend.locator("figure.chart").nth(1).locator("rect.bar")).to_have_count(30)
    await expect(trend).to_contain_text("每日新增逾期（近 30 日，办件（含子件）·全部部门）")
    await page.goto(f"{timed.base_url}/sla?department=住建局")
    await expect(trend).to_contain_text("按时办结率（近 30 日，办件（含子件）·住建局）")
    await expect(trend).to_contain_text("每日新增逾期（近 30 日，办件（含子件）·住建局）")
    await snap(page, "sla-3b-trend")
    await page.goto(f"{timed.base_url}/sla")

    # Click through to the case: its clocks and its whole timeline, alerts included.
    await page.click(f'#overdue tr[data-case="{case_no}"] a')
    await expect(page.locator("h1")).to_have_text(f"办件 {case_no}")
    await expect(page.locator("#clocks .status").first).to_contain_text("逾期")
    await expect(page.locator("#timeline")).to_contain_text("受理")
    await expect(page.locator("#timeline")).to_contain_text("逾期")
    await snap(page, "sla-4-case")
