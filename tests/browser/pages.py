"""Steps every browser test takes: sign in through the login page, and keep screenshots as artifacts."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
PASSWORD = "hall2026"  # noqa: S105 (the demo users' documented password)


async def login(page: Page, site: str, user_id: str, next_path: str = "") -> None:
    """Sign in as ``user_id`` through the login form; lands on ``next_path`` or the role's home page."""
    await page.goto(f"{site}/login" + (f"?next={next_path}" if next_path else ""))
    await page.fill("#user_id", user_id)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_load_state("domcontentloaded")
    assert "/login" not in page.url, f"{user_id} could not sign in: {await page.inner_text('body')}"


async def snap(page: Page, name: str) -> Path:
    """A full-page screenshot in ``tests/artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
