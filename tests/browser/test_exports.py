"""导出 in real headless Chromium: the operator clicks 导出 Excel on the SLA board and 导出 CSV on the statistics
page; the browser saves each under its Chinese name (Content-Disposition's filename*) and the files open."""

from __future__ import annotations

import csv
import io

import httpx
from openpyxl import load_workbook
from playwright.async_api import Page, expect

from tests.browser.pages import login, snap
from tests.journeys import submit


async def test_the_operator_downloads_the_board_and_the_statistics(page: Page, site: str) -> None:
    async with httpx.AsyncClient(base_url=site, timeout=30) as api:
        case_no = await submit(api)
    await login(page, site, "op-qian", "/sla")
    await page.goto(f"{site}/sla?purpose=")
    await snap(page, "sla-export-buttons")
    # The board's projection follows Kafka: export until the case is in the file.
    for _ in range(30):
        async with page.expect_download() as pending:
            await page.click("a[data-export=xlsx]")
        download = await pending.value
        book = load_workbook(io.BytesIO((await download.path()).read_bytes()), read_only=True)
        if any(row[1] == case_no for row in book["清单"].iter_rows(values_only=True)):
            break
        await page.wait_for_timeout(500)
    else:
        raise AssertionError(f"{case_no} never appeared in the exported board")
    assert download.suggested_filename.startswith("时限监控-全部-")
    assert download.suggested_filename.endswith(".xlsx")

    await page.goto(f"{site}/ratings/stats?by=item")
    async with page.expect_download() as pending:
        await page.click("a[data-export=csv]")
    download = await pending.value
    assert download.suggested_filename.startswith("好差评统计-按事项-")
    data = (await download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[:2] == ["事项", "评价数"]

    # 每周趋势 follows the page's period: four weeks (Monday to Sunday), three charts, each titled with the span.
    await page.goto(f"{site}/ratings/stats?since=2026-11-02&until=2026-11-29")
    charts = page.locator("#weekly figure.chart")
    await expect(charts).to_have_count(3)
    for name in ("好评率", "差评数", "回访整改率"):
        await expect(page.locator("#weekly")).to_contain_text(f"{name}（每周，2026-11-02 至 2026-11-29）")
    await expect(page.locator("#weekly figure.chart").nth(1).locator("rect.bar")).to_have_count(4)
    await snap(page, "stats-weekly")
