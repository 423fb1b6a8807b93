"""A window clerk at the desk (一窗受理) in real headless Chromium: find, fill, submit, print."""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

from playwright.async_api import Page, expect
from stdnum.cn import ric

from tests.browser.pages import login, snap

_serial = itertools.count(500)


def an_id() -> str:
    body = f"15052519880808{next(_serial):03d}"
    return body + ric.calc_check_digit(body + "0")


async def choose(page: Page, query: str, code: str) -> None:
    """Find an item or bundle by typing, as a clerk does, and take it with Enter."""
    await page.fill("#find", query)
    await expect(page.locator(f'#matches li[data-code="{code}"]').first).to_be_visible()
    await expect(page.locator("#matches li[data-code]").first).to_have_attribute("data-code", code)
    await page.press("#find", "Enter")
    await expect(page.locator("#application")).to_be_visible()


async def applicant(page: Page, name: str, id_number: str) -> None:
    await page.fill("#applicant-name", name)
    await page.fill("#id-number", id_number)


async def tick(page: Page, *codes: str) -> None:
    for code in codes:
        await page.check(f'#checklist input[data-code="{code}"]')


async def test_a_complete_application_is_accepted_and_the_receipt_printed(page: Page, site: str) -> None:
    await login(page, site, "clerk-zhang")
    assert page.url.endswith("/desk")
    await expect(page.locator("#find")).to_be_focused()
    await choose(page, "查封", "11150525000118001")
    await applicant(page, "赵小红", an_id())
    await expect(page.locator("#id-hint")).to_have_text("✓ 校验通过")
    await expect(page.locator("#missing")).to_contain_text("尚缺 2 项")
    await tick(page, "M01", "M02")
    await expect(page.locator("#missing")).to_contain_text("材料齐全")
    await page.press("#id-number", "Enter")  # Enter submits
    receipt = page.locator('#document[data-kind="receipt"]')
    await expect(receipt).to_be_visible()
    case_no = await page.inner_text("#receipt-case-no")
    assert case_no.startswith("150525")
    assert len(case_no) == 20
    await expect(page.locator("#outcome")).to_contain_text(case_no)
    await expect(receipt).to_contain_text("受理回执")
    await expect(page.locator("#receipt-owner")).to_contain_text("张敏")
    # The promised completion time comes from timing: 计算中 until it is known.
    await expect(page.locator("#promised-deadline")).not_to_have_text("计算中", timeout=20_000)
    await expect(page.locator("#promised-deadline")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"))
    await snap(page, "desk-receipt")
    await page.emulate_media(media="print")
    assert not await page.locator("#finder").is_visible(), "only the document is printed"
    await snap(page, "desk-receipt-print")
    await page.emulate_media(media="screen")

    await page.goto(f"{site}/desk/cases")
    await expect(page.locator(f'#my-cases tr[data-case-no="{case_no}"]')).to_be_visible()
    await snap(page, "desk-my-cases")


async def test_an_incomplete_application_gets_a_notice_of_everything_missing(page: Page, site: str) -> None:
    await login(page, site, "clerk-zhang")
    await choose(page, "用气", "11150525000120002")
    await applicant(page, "钱多多", an_id())
    await tick(page, "M01")
    await expect(page.locator("#missing")).to_contain_text("尚缺 1 项：不动产权证书")
    await page.click("#submit")
    notice = page.locator('#document[data-kind="notice"]')
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("一次性告知书")
    await expect(page.locator('#missing-list tr[data-code="M02"]')).to_contain_text("不动产权证书")
    await expect(page.locator("#missing-list tr[data-code]")).to_have_count(1)
    await snap(page, "desk-notice")


async def test_a_deferred_acceptance_lists_what_is_owed_and_by_when(page: Page, site: str) -> None:
    await login(page, site, "clerk-zhang")
    await choose(page, "建设工程企业资质", "11150525000120006")
    await applicant(page, "奈曼旗宏达建筑有限公司", an_id())
    await tick(page, "M01", "M02", "M05")
    await expect(page.locator("#missing")).to_contain_text("仅缺可容缺材料")
    await page.check("#deferral")
    await page.fill("#supplement-days", "5")
    await expect(page.locator("#missing")).to_contain_text("容缺受理")
    await page.click("#submit")
    await expect(page.locator("#doc-deferral")).to_be_visible()
    owed = page.locator("#owed li")
    await expect(owed).to_have_count(2)
    await expect(owed.first).to_contain_text("技术负责人职称证书")
    await expect(page.locator("#supplement-deadline")).not_to_have_text("计算中", timeout=20_000)
    await expect(page.locator("#outcome")).to_contain_text("容缺受理")
    await snap(page, "desk-deferral")


async def test_the_business_bundle_is_one_form_with_four_children(page: Page, site: str) -> None:
    await login(page, site, "clerk-zhang")
    await choose(page, "企业开办", "11150525YJS0001")
    await expect(page.locator("#bundle-parts tbody tr")).to_have_count(4)
    await applicant(page, "孙立新", an_id())
    await tick(page, "reg.M01", "reg.M02", "reg.M03", "reg.M04", "tax.M02", "ss.M02")
    await expect(page.locator("#missing")).to_contain_text("材料齐全")
    await page.click("#submit")
    children = page.locator("#children tr[data-child]")
    await expect(children).to_have_count(4)
    parent = await page.inner_text("#receipt-case-no")
    for index, department in enumerate(["市场监管局", "公安局", "税务局", "人社局"], start=1):
        row = page.locator(f'#children tr[data-child="{parent}-0{index}"]')
        await expect(row).to_contain_text(department)
    await snap(page, "desk-bundle")


async def test_the_clerk_refuses_with_a_reason_and_prints_the_notice(page: Page, site: str) -> None:
    await login(page, site, "clerk-zhang")
    await choose(page, "注销登记", "11150525000118004")
    await applicant(page, "周某", an_id())
    await page.click("#refuse")
    await expect(page.locator("#refusal-reason")).to_be_focused()
    await page.fill("#refusal-reason", "该不动产已被查封，不能办理注销")
    await page.click("#refuse-confirm")
    notice = page.locator('#document[data-kind="refusal"]')
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("不予受理通知书")
    await expect(page.locator("#refused-because")).to_contain_text("该不动产已被查封")
    await snap(page, "desk-refusal")


async def test_a_wrong_check_digit_is_shown_while_typing_and_refused_with_the_character(page: Page, site: str) -> None:
    await login(page, site, "clerk-zhang")
    await choose(page, "11150525000118001", "11150525000118001")
    await applicant(page, "赵小红", "150525199001011234")
    await expect(page.locator("#id-hint")).to_have_text("第18位校验码应为7")
    await tick(page, "M01", "M02")
    await page.click("#submit")
    await expect(page.locator("#error")).to_have_text("居民身份证号第18位校验码应为7，实际为4")


async def test_the_checklist_asks_the_gateway_shows_checking_and_says_when_it_fails(page: Page, site: str) -> None:
    """The live checklist is the gateway's assessment (intake's rules), not a copy in the page."""
    await login(page, site, "clerk-zhang")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/assessment") else None)
    await choose(page, "查封", "11150525000118001")
    await expect(page.locator("#missing")).to_contain_text("尚缺 2 项")
    assert any(url.endswith("/api/catalogue/11150525000118001/assessment") for url in asked)

    # A slow answer: "检查中…" shows meanwhile; a failed one: the reason, and the page goes on working.
    async def failing(route: Any) -> None:
        await asyncio.sleep(0.8)
        await route.fulfill(status=503, json={"status_code": 503, "detail": "暂不可用"})

    await page.route("**/assessment", failing)
    await page.check('#checklist input[data-code="M01"]')
    await expect(page.locator("#missing")).to_have_text("检查中…")
    await expect(page.locator("#missing")).to_contain_text("材料检查失败：暂不可用")
    await page.unroute("**/assessment")
    await page.check('#checklist input[data-code="M02"]')
    await expect(page.locator("#missing")).to_contain_text("材料齐全")
