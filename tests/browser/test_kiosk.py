"""The 24-hour kiosk in real headless Chromium: apply, supplement 容缺 materials, look up progress."""

from __future__ import annotations

import itertools

import httpx
from playwright.async_api import Page, expect
from stdnum.cn import ric

from tests.browser.pages import login, snap
from tests.integration import test_returns as returns
from tests.integration.test_returns import returned_step, step, submitted
from tests.journeys import CLERK

_serial = itertools.count(700)


def an_id() -> str:
    body = f"15052519950505{next(_serial):03d}"
    return body + ric.calc_check_digit(body + "0")


async def test_an_applicant_applies_at_the_kiosk_and_a_clerk_accepts_it_in_the_prereview_queue(
    page: Page, site: str
) -> None:
    await login(page, site, "kiosk-01")
    assert page.url.endswith("/kiosk")
    id_number = an_id()
    await page.fill("#k-find", "用气")
    await page.click('#k-items [data-code="11150525000120002"]')
    await page.fill("#k-name", "包某某")
    await page.fill("#k-id", id_number)
    await page.check('#k-materials input[value="M01"]')
    await page.check('#k-materials input[value="M02"]')
    await page.click("#k-submit")
    # 预审: the machine does not accept; the applicant gets a pre-review number and what a clerk will check.
    number = await page.locator("#k-prereview-no").inner_text()
    assert "YS" in number
    await expect(page.locator("#k-checks")).to_contain_text("不动产权证书")
    await snap(page, "kiosk-prereview")

    await page.click("#tab-lookup")
    await page.fill("#l-case", number)
    await page.fill("#l-id", an_id())
    await page.press("#l-id", "Enter")
    await expect(page.locator("#k-lookup-answer [role=alert]")).to_contain_text("未找到相符的办件")
    await page.fill("#l-id", id_number)
    await page.press("#l-id", "Enter")
    await expect(page.locator("#l-state")).to_contain_text("用气报装：待预审")
    await snap(page, "kiosk-lookup")

    # The clerk's 预审 queue: accept, and the receipt shows with the case number.
    await login(page, site, "clerk-zhang", next_path="/desk/prereviews")
    row = page.locator(f'#prereview-queue tr[data-prereview-no="{number}"]')
    await expect(row).to_contain_text("包某某")
    await row.locator("button").click()
    await expect(row.locator("output")).to_contain_text("受理：150525")
    await expect(page.locator("#prereview-document")).to_contain_text("受理")
    await snap(page, "desk-prereview-accepted")


async def test_owed_materials_are_supplemented_at_the_kiosk(page: Page, site: str) -> None:
    id_number = an_id()
    application = {
        "item_code": "11150525000120006",
        "applicant": {"name": "奈曼旗远达建筑有限公司", "id_type": "居民身份证", "id_number": id_number},
        "materials": ["M01", "M02", "M05"],
        "deferral_signed": True,
    }
    async with httpx.AsyncClient(base_url=site, headers=CLERK) as api:
        accepted = await api.post("/api/cases", json=application)
        assert accepted.status_code == 201, accepted.text
    case_no = accepted.json()["case_no"]

    await login(page, site, "kiosk-01")
    await page.click("#tab-supplement")
    await page.fill("#s-case", case_no)
    await page.fill("#s-id", id_number)
    await page.press("#s-id", "Enter")
    owed = page.locator("#s-owed input")
    await expect(owed).to_have_count(2)
    await owed.nth(0).check()
    await owed.nth(1).check()
    await snap(page, "kiosk-supplement")
    await page.click("#s-submit")
    await expect(page.locator("#s-complete")).to_contain_text("材料已全部补齐")


async def test_an_applicant_supplements_a_returned_step_at_the_kiosk(page: Page, site: str) -> None:
    """退回补正 (issue 13, item 6): the kiosk names what the return asks for and its limit; the 补正 resumes it."""
    async with httpx.AsyncClient(base_url=site) as api:
        case_no = await submitted(api, returns.application())
        step_id = await returned_step(api, case_no)

    await login(page, site, "kiosk-01")
    await page.click("#tab-supplement")
    await page.fill("#s-case", case_no)
    await page.fill("#s-id", returns.ID_NUMBER)
    await page.press("#s-id", "Enter")
    await expect(page.locator("#s-returned")).to_contain_text("逾期未补正将作退件处理")
    owed = page.locator("#s-owed input")
    await expect(owed).to_have_count(1)
    await owed.nth(0).check()
    await snap(page, "kiosk-returned")
    await page.click("#s-submit")
    await expect(page.locator("#s-complete")).to_contain_text("补正材料已收到")
    async with httpx.AsyncClient(base_url=site) as api:
        await step(api, step_id, waiting="", paused=False)
