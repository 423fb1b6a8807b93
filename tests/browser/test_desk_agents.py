"""An agent's application at the desk in real headless Chromium (issue 13, items 4 and 5): naming an agent adds
the 授权委托书 to the checklist; without it the clerk prints a numbered 一次性告知书, reprinted from 我的办件; with
it the receipt names the applicant and the agent, the agent's ID masked."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.browser.pages import login, snap
from tests.browser.test_desk import an_id, applicant, choose, tick

SEAL = "11150525000118001"  # 查封登记: M01, M02; no 委托书 of its own (WTS is added for an agent)


async def agent(page: Page, name: str, id_number: str, relation: str) -> None:
    await page.check("#has-agent")
    await expect(page.locator("#agent-fields")).to_be_visible()
    await page.fill("#agent-name", name)
    await page.fill("#agent-id-number", id_number)
    await page.fill("#agent-relation", relation)


async def test_an_agents_application_needs_the_letter_and_names_both_on_the_receipt(page: Page, site: str) -> None:
    agent_id = an_id()
    await login(page, site, "clerk-zhang")
    await choose(page, "查封", SEAL)
    await applicant(page, "赵小红", an_id())
    await tick(page, "M01", "M02")
    await expect(page.locator("#missing")).to_contain_text("材料齐全")
    await agent(page, "钱代理", agent_id, "配偶")
    await expect(page.locator("#agent-id-hint")).to_have_text("✓ 校验通过")
    await expect(page.locator('#checklist input[data-code="WTS"]')).to_be_visible()
    await expect(page.locator("#missing")).to_contain_text("尚缺 1 项：授权委托书")

    # Without the letter: 一次告知, numbered, the kept notice names the agent and lists the letter.
    await page.click("#submit")
    await expect(page.locator("#outcome")).to_contain_text("告知书编号")
    notice_no = await page.inner_text("#notice-no")
    assert re.fullmatch(r"150525\d{8}YC\d{6}", notice_no), notice_no
    await expect(page.locator("#notice-agent")).to_contain_text("钱代理", timeout=10_000)  # the server's copy
    await expect(page.locator('#missing-list tr[data-code="WTS"]')).to_contain_text("授权委托书")
    await snap(page, "desk-agent-notice")

    # Reprinted from 我的办件.
    await page.goto(f"{site}/desk/cases")
    await page.click(f'#my-notices tr[data-notice-no="{notice_no}"] a')
    await expect(page.locator("#notice-no")).to_have_text(notice_no)
    await expect(page.locator('#missing-list tr[data-code="WTS"]')).to_be_visible()

    # With the letter: 受理, the receipt names the applicant (the party) and the agent, the agent's ID masked.
    await page.goto(f"{site}/desk")
    await choose(page, "查封", SEAL)
    await applicant(page, "赵小红", an_id())
    await agent(page, "钱代理", agent_id, "配偶")
    await tick(page, "M01", "M02", "WTS")
    await page.fill("#helper-name", "帮办员小李")
    await expect(page.locator("#missing")).to_contain_text("材料齐全")
    await page.click("#submit")
    receipt = page.locator('#document[data-kind="receipt"]')
    await expect(receipt).to_be_visible()
    await expect(receipt).to_contain_text("赵小红")
    await expect(page.locator("#receipt-agent")).to_contain_text("钱代理")
    await expect(page.locator("#receipt-agent")).to_contain_text(f"{agent_id[:6]}********{agent_id[-4:]}")
    await expect(page.locator("#receipt-helper")).to_have_text("帮办员小李")
    assert agent_id not in await receipt.inner_text()
    await snap(page, "desk-agent-receipt")
