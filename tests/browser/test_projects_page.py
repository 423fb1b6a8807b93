"""工程建设项目 in real headless Chromium: a clerk registers a project on its page; after stage 1 is granted (5
working days, on fixed days of 2026) and stage 2 filed at the desk months later, the project page shows each stage's
state, times, working days and licence, and the budget's used and remaining days; the operator's SLA board lists
the project with its stages and total."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.browser.pages import login, snap
from tests.browser.test_desk import applicant, choose
from tests.integration.test_projects import (
    BUILDER,
    STAGE_DEPARTMENTS,
    STAGES,
    TIMES,
    USCC,
    apply,
    approve,
    as_of,
    project_code,
)
from tests.journeys import auth
from tests.support import eventually


async def test_a_clerk_registers_a_project_and_follows_its_stages(page: Page, site: str) -> None:
    code = project_code()
    await login(page, site, "clerk-zhang", next_path="/projects")
    form = page.locator("#project-form")
    await form.locator("input[name='project_code']").fill(code)
    await form.locator("input[name='name']").fill("宏达·铭城二期")
    await form.locator("input[name='builder']").fill(BUILDER)
    await form.locator("input[name='builder_uscc']").fill(USCC[:-1] + "X")  # a wrong check character first
    await form.locator("input[name='location']").fill("大沁他拉镇团结路北侧")
    await form.locator("select[name='project_type']").select_option("FJ")
    await form.locator("button[type='submit']").click()
    await expect(page.locator("#refusal")).to_contain_text("建设单位统一社会信用代码（builder_uscc）")
    await form.locator("input[name='builder_uscc']").fill(USCC)
    await form.locator("button[type='submit']").click()
    await page.wait_for_url(f"**/projects/{code}")
    await expect(page.locator("#stages tbody tr")).to_have_count(4)
    await expect(page.locator("#stages tr[data-stage='1'] .state")).to_have_text("未申报")
    await expect(page.locator("#budget-total")).to_have_text("60")
    await expect(page.locator("#budget-remaining")).to_have_text("60")
    await snap(page, "project-registered")

    async with httpx.AsyncClient(base_url=site, timeout=30) as api:
        with as_of(TIMES[0][0]):
            first = await apply(api, code, 1)
            assert first.status_code == 201, first.text
        with as_of(TIMES[0][1]):
            await approve(api, first.json()["case_no"], STAGE_DEPARTMENTS[0], "BR1")

        async def granted() -> bool | None:  # the project knows stage 1's result once routing completed it
            found = await api.get(f"/api/projects/{code}", headers=auth("op-qian"))
            return True if found.json()["stages"][0]["state"] == "准予" else None

        await eventually(granted)

    # Months of construction later the builder applies for stage 2 at the clerk's desk, naming the project; stage 1's
    # licence is reused, so the stage's own materials complete the application.
    with as_of(TIMES[1][0]):
        await page.goto(f"{site}/desk")
        await choose(page, "工程建设许可", STAGES[1])
        await page.select_option("#id-type", "统一社会信用代码")
        await applicant(page, BUILDER, USCC)
        await page.fill("#project-code", code)
        for box in await page.locator("#checklist input[data-code]").all():
            await box.check()
        await page.click("#submit")
        receipt = page.locator('#document[data-kind="receipt"]')
        await expect(receipt).to_be_visible()
        await snap(page, "project-stage-2-receipt")

    async def shown() -> bool | None:
        await page.goto(f"{site}/projects/{code}")
        used = await page.locator("#stages tr[data-stage='1'] .used").inner_text()
        state = await page.locator("#stages tr[data-stage='2'] .state").inner_text()
        return True if used.startswith("5 /") and state == "审批中" else None

    await eventually(shown)
    stage1 = page.locator("#stages tr[data-stage='1']")
    await expect(stage1.locator(".state")).to_have_text("准予")
    await expect(stage1).to_contain_text("建设用地规划许可证 BR1")
    await expect(stage1).to_contain_text("2026-03-02")
    await expect(page.locator("#budget-used")).to_have_text("5")
    await expect(page.locator("#budget-remaining")).to_have_text("55")
    await expect(page.locator("#budget")).to_contain_text("其中审批中阶段的承诺时限 15 个工作日")
    await expect(page.locator("#stages tr[data-stage='3'] .state")).to_have_text("未申报")
    await expect(page.locator("#current")).to_contain_text("第2阶段“工程建设许可”审批中")
    await snap(page, "project-stage-2")

    await page.context.clear_cookies()
    await login(page, site, "op-qian", next_path="/sla")
    row = page.locator(f"#sla-projects tr[data-project='{code}']")
    await expect(row).to_have_count(1)
    await expect(row.locator("[data-stage='1']")).to_contain_text("准予（5个工作日）")
    await expect(row.locator("[data-stage='2']")).to_contain_text("审批中")
    await expect(row.locator(".project-total")).to_have_text("5 / 55 / 60 个工作日")
    await snap(page, "project-sla-board")
