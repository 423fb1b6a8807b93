"""统一窗口出件 in a real browser: the front desk sees the results ready for pickup, is told why one may not
be handed out yet, and records a delivery by post with its address."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.browser.pages import login, snap
from tests.journeys import STAFF, open_step, state, submit


async def completed_case(api: httpx.AsyncClient) -> str:
    """A 查封登记 case decided through its three steps (承办 → 审核 → 决定) by 自然资源局."""
    case_no = await submit(api)
    done: set[str] = set()
    while len(done) < 3:
        step_id = await open_step(api, case_no)
        if step_id in done:
            continue
        decided = await api.post(
            f"/api/steps/{step_id}/decision", json={"action": "通过", "opinion": "同意"}, headers=STAFF
        )
        assert decided.status_code == 200, decided.text
        done.add(step_id)
    await state(api, case_no, "已办结")
    return case_no


async def test_the_desk_delivers_a_result_by_post_and_needs_the_address(page: Page, site: str) -> None:
    async with httpx.AsyncClient(base_url=site, timeout=30) as api:
        case_no = await completed_case(api)
        await login(page, site, "clerk-zhang", next_path="/desk/delivery")
        row = page.locator(f"#ready tr[data-case='{case_no}']")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("准予")
        await expect(row).to_contain_text("查封登记")
        await snap(page, "delivery-desk")

        await row.locator("input[value='邮寄']").check()
        await row.locator("button:has-text('出件')").click()
        await expect(page.locator("#refusal")).to_have_text("邮寄送达须填写收件地址")
        await row.locator("input[name='address']").fill("奈曼旗大沁他拉镇建设路1号")
        await row.locator("button:has-text('出件')").click()
        await expect(page.locator(f"#ready tr[data-case='{case_no}']")).to_have_count(0, timeout=15_000)
        await snap(page, "delivery-desk-delivered")

        await page.goto(f"{site}/desk/delivery/{case_no}")
        await expect(page.locator("h1")).to_have_text("办件出件单")
        await expect(page.locator("article")).to_contain_text("邮寄（奈曼旗大沁他拉镇建设路1号）")
        await snap(page, "delivery-note")
        case = await state(api, case_no, "已出件")
        assert [e["type"] for e in case["timeline"]].count("CaseDelivered.v1") == 1
