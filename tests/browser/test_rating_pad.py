"""The window rating pad (评价器) in a real browser: it shows the service its window's clerk has just given, and
one tap records the rating."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.browser.pages import login, snap
from tests.journeys import APPLICATION, auth, submit
from tests.support import eventually

OPERATOR = auth("op-qian")


async def test_the_pad_shows_the_case_just_served_and_one_tap_rates_it(page: Page, site: str) -> None:
    async with httpx.AsyncClient(base_url=site, timeout=30) as api:
        case_no = await submit(api)  # accepted at clerk-zhang's window, where pad-01 stands
        await login(page, site, "pad-01")
        assert page.url.endswith("/pad")
        # The pad follows its window: the case appears within a poll or two, with five large buttons.
        await expect(page.locator("#pad-case-no")).to_have_text(case_no, timeout=15_000)
        await expect(page.locator("#pad-stage")).to_have_text("受理")
        buttons = page.locator("button.rate-level")
        await expect(buttons).to_have_count(5)
        await expect(buttons.first).to_be_enabled()
        await snap(page, "rating-pad-served")

        await page.click("button.rate-level[data-level='非常满意']")
        await expect(page.locator("#pad-thanks")).to_have_text("感谢您的评价！")
        await expect(buttons.first).to_be_disabled()
        await snap(page, "rating-pad-rated")

        async def recorded() -> list[dict[str, Any]] | None:
            answer = await api.get(f"/api/cases/{case_no}/ratings", headers=OPERATOR)
            found: list[dict[str, Any]] = answer.json()["ratings"] if answer.status_code == 200 else []
            return found or None

        (rating,) = await eventually(recorded)
        assert (rating["level"], rating["channel"], rating["stage"], rating["clerk"]) == (
            "非常满意",
            "评价器",
            "受理",
            "clerk-zhang",
        )
        # Reloaded, the pad still knows the service is rated: no second tap.
        await page.reload()
        await expect(page.locator("#pad-thanks")).to_have_text("感谢您的评价！")
        await expect(buttons.first).to_be_disabled()


async def test_a_pad_user_only_reaches_the_pad(page: Page, site: str) -> None:
    await login(page, site, "pad-01")
    response = await page.goto(f"{site}/ratings/desk")
    assert response is not None
    assert response.status == 403


async def test_the_kiosk_rates_a_case_by_its_number_and_the_applicants_id_digits(page: Page, site: str) -> None:
    async with httpx.AsyncClient(base_url=site, timeout=30) as api:
        case_no = await submit(api)

        async def known() -> bool | None:
            return (await api.get(f"/api/cases/{case_no}", headers=OPERATOR)).status_code == 200 or None

        await eventually(known)
        await login(page, site, "kiosk-01", next_path="/rate")
        await page.fill("#case_no", case_no)
        await page.fill("#id_tail", "999999")
        await page.click("button.rate-level[data-level='满意']")
        await expect(page.locator("#kiosk-error")).to_have_text(
            f"证件号码后几位与办件 {case_no} 的申请人不符，不能评价"
        )
        await page.fill("#id_tail", APPLICATION["applicant"]["id_number"][-6:])
        await page.click("button.rate-level[data-level='满意']")
        await expect(page.locator("#kiosk-thanks")).to_have_text(f"办件 {case_no} 评价成功，感谢您的评价！")
        await snap(page, "rating-kiosk")

        async def recorded() -> list[tuple[str, str, str]] | None:
            answer = await api.get(f"/api/cases/{case_no}/ratings", headers=OPERATOR)
            found = [(r["channel"], r["level"], r["stage"]) for r in answer.json()["ratings"]]
            return found or None

        assert await eventually(recorded) == [("自助终端", "满意", "受理")]
