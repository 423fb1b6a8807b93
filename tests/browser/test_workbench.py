"""The department workbench in a real browser: an approver signs in, sees the step with its due time and SLA
colour, and approves it with an opinion; a user of another department is refused; a step returned for
supplement gives the applicant a printable notice."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.browser.pages import login, snap
from tests.journeys import STAFF, inbox_steps, submit
from tests.support import eventually

DUE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


async def clocked_step(api: httpx.AsyncClient, case_no: str, seq: int = 1) -> dict[str, Any]:
    """The case's step ``seq`` in 自然资源局's inbox, once timing has started its clock."""

    async def probe() -> dict[str, Any] | None:
        steps = [
            s
            for s in await inbox_steps(api, "/api/departments/自然资源局/steps", STAFF)
            if s["case_no"] == case_no and s["seq"] == seq
        ]
        return steps[0] if steps and steps[0]["due"] else None

    return await eventually(probe, timeout_s=30)


async def test_an_approver_sees_the_step_with_its_due_time_and_approves_it(page: Page, site: str) -> None:
    async with httpx.AsyncClient(base_url=site, timeout=30) as api:
        case_no = await submit(api)
        step = await clocked_step(api, case_no)
        await login(page, site, "zrzy-li")
        assert page.url.endswith("/workbench")
        row = page.locator(f"#inbox tr[data-case='{case_no}']")
        await expect(row).to_have_count(1)
        await expect(row.locator("td").nth(2)).to_contain_text("承办")
        await expect(row.locator("td.due")).to_have_text(DUE)
        await expect(row.locator("td.sla span").first).to_have_text(re.compile("正常|预警|逾期"))
        await snap(page, "workbench-inbox")

        await row.locator("a:has-text('办理')").click()
        await expect(page.locator("h1")).to_contain_text("承办环节")
        await expect(page.locator("#due")).to_have_text(DUE)
        await page.fill("#opinion", "材料齐全，同意")
        await snap(page, "workbench-step")
        await page.click("#decision-form button[value='通过']")
        await expect(page.locator("#state")).to_have_text("已办（通过）", timeout=15_000)
        await expect(page.locator("#record")).to_contain_text("材料齐全，同意")
        await expect(page.locator("#trail")).to_contain_text("承办：通过（材料齐全，同意）")
        await expect(page.locator("#trail")).to_contain_text("李强")
        await snap(page, "workbench-approved")

        # The next step (审核) now waits in the inbox; the approved one has left it.
        review = await clocked_step(api, case_no, seq=2)
        assert review["step_id"] != step["step_id"]
        await page.goto(f"{site}/workbench")
        await expect(page.locator(f"#inbox tr[data-step='{step['step_id']}']")).to_have_count(0)
        await expect(page.locator(f"#inbox tr[data-step='{review['step_id']}']")).to_have_count(1)

        # Someone of another department is refused, with the reason, and sees none of it in their inbox.
        await page.click("header.top button:has-text('退出')")
        await login(page, site, "sw-liu")
        await expect(page.locator(f"#inbox tr[data-case='{case_no}']")).to_have_count(0)
        refused = await page.goto(f"{site}/workbench/steps/{review['step_id']}")
        assert refused is not None
        assert refused.status == 403
        await expect(page.locator("[role=alert]")).to_have_text("该环节属于自然资源局，税务局人员无权查看或办理")
        await expect(page.locator("#decision-form")).to_have_count(0)
        await snap(page, "workbench-refused")


async def test_a_step_returned_for_supplement_prints_the_applicants_notice(page: Page, site: str) -> None:
    async with httpx.AsyncClient(base_url=site, timeout=30) as api:
        case_no = await submit(api)
        step = await clocked_step(api, case_no)
        await login(page, site, "zrzy-sun", next_path=f"/workbench/steps/{step['step_id']}")
        await page.fill("#opinion", "复印件不清晰")
        await page.fill("#materials", "人民法院协助执行通知书（清晰复印件）\n工作人员工作证件")
        await page.click("#decision-form button[value='退回']")
        await expect(page.locator("#state")).to_have_text("退回补正中", timeout=15_000)
        await page.click("text=打印补正材料通知书")
        await expect(page.locator("h1")).to_have_text("补正材料通知书")
        await expect(page.locator("#materials li")).to_have_text(
            ["人民法院协助执行通知书（清晰复印件）", "工作人员工作证件"]
        )
        await expect(page.locator("article")).to_contain_text(case_no)
        await expect(page.locator("article")).to_contain_text("复印件不清晰")
        await snap(page, "workbench-supplement-notice")
