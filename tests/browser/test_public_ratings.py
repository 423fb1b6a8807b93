"""The public disclosure page (no login): ratings and corrections, with names and ID numbers masked."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.browser.pages import login, snap
from tests.journeys import APPLICATION, auth, finish_journey, submit


async def test_the_public_sees_ratings_with_the_applicant_masked(page: Page, site: str) -> None:
    async with httpx.AsyncClient(base_url=site, timeout=30) as api:
        case_no = await submit(api)
        await finish_journey(api, case_no)  # rated 非常满意 at the kiosk
        answer = await api.get(f"/api/cases/{case_no}/ratings", headers=auth("op-qian"))
        assert answer.json()["ratings"], answer.text
    await page.goto(f"{site}/public/ratings")
    assert "/login" not in page.url
    await expect(page.locator("h1")).to_have_text("政务服务好差评公示")
    rows = page.locator("#ratings tbody tr", has_text="非常满意")
    await expect(rows.first).to_contain_text("赵**")
    await expect(rows.first).to_contain_text("150***********")
    body = await page.inner_text("body")
    assert APPLICATION["applicant"]["name"] not in body
    assert APPLICATION["applicant"]["id_number"] not in body
    await snap(page, "public-ratings")


async def test_a_bad_review_from_a_link_is_corrected_at_the_desk_and_published(page: Page, site: str) -> None:
    async with httpx.AsyncClient(base_url=site, timeout=30) as api:
        case_no = await submit(api)
        await finish_journey(api, case_no)
        link = await api.post(
            f"/api/cases/{case_no}/rating-links",
            json={"stage": "办结", "channel": "短信", "purpose": "追评"},
            headers=auth("clerk-zhang"),
        )
        assert link.status_code == 201, link.text
    # The applicant opens the SMS link (no login) and adds a 追评.
    await page.goto(f"{site}/rate/{link.json()['token']}")
    await expect(page.locator("h1")).to_have_text("追加评价")
    await page.fill("#text", "证书寄送地址有误")
    await page.click("button.rate-level[data-level='不满意']")
    await expect(page.locator("#link-thanks")).to_have_text("评价成功，感谢您的评价！")
    await snap(page, "rating-link-bad")

    # 自然资源局 handles it at the desk: reply and correct, call the rater back, close it.
    await login(page, site, "zrzy-li", next_path="/ratings/desk")
    row = page.locator("#followups tbody tr", has_text=case_no)
    await expect(row).to_contain_text("待核实")
    await row.locator("a", has_text="办理").click()
    await page.fill("#reply", "已核实，重新寄送")
    await page.click("#verify button[type=submit]")
    await expect(page.locator("#followup h2")).to_contain_text("整改中")
    await page.fill("#note", "已电话致歉并确认新地址")
    await page.click("#visit button[type=submit]")
    await expect(page.locator("#history")).to_contain_text("电话回访：已电话致歉并确认新地址")
    await page.fill("#explanation", "证书已按新地址寄达")
    await page.click("#close button[type=submit]")
    await expect(page.locator("#followup h2")).to_contain_text("整改完成")
    await snap(page, "rating-desk-closed")

    await page.goto(f"{site}/public/ratings")
    correction = page.locator("#corrections tbody tr", has_text="证书已按新地址寄达")
    await expect(correction).to_contain_text("赵**")
    await expect(correction).to_contain_text("已核实，重新寄送")
    await snap(page, "public-ratings-correction")
