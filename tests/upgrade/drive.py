"""Journeys on a release, left at every stage: run inside a worktree of that release by ``tests/upgrade/record.py``.

``python tests/upgrade/drive.py NAMESPACE OUT.json`` (the working directory and ``PYTHONPATH`` the release's tree;
``KAFKA_BOOTSTRAP_SERVERS``, ``REDIS_URL``, ``HALL_SECRET``, ``HALL_DEMO=1`` and ``HALL_CLOCK_OFFSET_S`` set) runs
that release's whole hall in this process (``tests.halls.in_process_hall``), drives one case to each stage over
its HTTP API only, waits for every read model to show it, stops the hall (offsets committed) and writes what each
case looks like: the new release must show at least that, and carry every case on from there.

It uses only what every release since f46a8d3 has: ``in_process_hall``, the demo users' tokens of
``tests.journeys`` and the public API.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from shared.settings import load_settings
from shared.topics import ensure_topics
from tests.halls import in_process_hall
from tests.journeys import APPLICATION, CLERK, KIOSK, KIOSK_PROOF, STAFF

INBOX = "/api/departments/自然资源局/steps"
OPINIONS = ("材料齐全", "审核同意", "准予")  # 承办 → 审核 → 决定


async def until(probe: Any, timeout_s: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = await probe()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{probe.__name__} did not happen within {timeout_s} s")
        await asyncio.sleep(0.1)


class Driver:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def submit(self) -> str:
        response = await self.client.post("/api/cases", json=APPLICATION, headers=CLERK)
        assert response.status_code == 201, response.text
        case_no: str = response.json()["case_no"]
        return case_no

    async def step(self, case_no: str, seq: int, **wanted: Any) -> dict[str, Any]:
        """The case's step ``seq`` (1 承办, 2 审核, 3 决定) in the inbox once it shows ``wanted``."""

        async def inbox_shows_it() -> dict[str, Any] | None:
            response = await self.client.get(INBOX, headers=STAFF)
            assert response.status_code == 200, response.text
            body = response.json()
            for step in body.get("items", body.get("steps", [])):  # "steps" before the inbox was paged
                if step["case_no"] == case_no and step["seq"] == seq and wanted.items() <= step.items():
                    return dict(step)
            return None

        found: dict[str, Any] = await until(inbox_shows_it)
        return found

    async def decide(self, case_no: str, seq: int, action: str = "通过", materials: list[str] | None = None) -> None:
        step = await self.step(case_no, seq, waiting="")
        body: dict[str, Any] = {"action": action, "opinion": OPINIONS[seq - 1] if action == "通过" else "材料需补正"}
        if materials:
            body["materials"] = materials
        response = await self.client.post(f"/api/steps/{step['step_id']}/decision", json=body, headers=STAFF)
        assert response.status_code in (200, 202), response.text

    async def state(self, case_no: str, wanted: str) -> None:
        async def reached() -> bool:
            response = await self.client.get(f"/api/cases/{case_no}", headers=CLERK)
            return response.status_code == 200 and bool(response.json()["state"] == wanted)

        await until(reached)

    async def view(self, case_no: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/cases/{case_no}", headers=CLERK)
        assert response.status_code == 200, response.text
        body = response.json()
        return {"state": body["state"], "timeline": [e["summary"] for e in body["timeline"]]}


async def drive(driver: Driver) -> dict[str, dict[str, Any]]:
    """One case at each stage: its number, the stage, and the step the new release carries it on from."""
    cases: dict[str, dict[str, Any]] = {}
    accepted = await driver.submit()
    await driver.step(accepted, 1, waiting="")
    cases[accepted] = {"stage": "accepted", "next_seq": 1}

    claimed = await driver.submit()
    step = await driver.step(claimed, 1, waiting="")
    response = await driver.client.post(f"/api/steps/{step['step_id']}/claim", headers=STAFF)
    assert response.status_code in (200, 202), response.text
    await driver.step(claimed, 1, assignee_id="zrzy-li")
    cases[claimed] = {"stage": "claimed", "next_seq": 1}

    reviewing = await driver.submit()
    await driver.decide(reviewing, 1)
    await driver.step(reviewing, 2, waiting="")
    cases[reviewing] = {"stage": "reviewing", "next_seq": 2}

    returned = await driver.submit()
    await driver.decide(returned, 1, action="退回", materials=["M02"])
    await driver.step(returned, 1, waiting="补正")
    cases[returned] = {"stage": "returned", "next_seq": 1}

    for stage in ("completed", "delivered", "rated"):
        case_no = await driver.submit()
        for seq in (1, 2, 3):
            await driver.decide(case_no, seq)
        await driver.state(case_no, "已办结")
        if stage != "completed":
            delivered = await driver.client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
            assert delivered.status_code in (200, 202), delivered.text
            await driver.state(case_no, "已出件")
        if stage == "rated":
            rating = {"level": "满意", "channel": "自助终端", **KIOSK_PROOF}
            rated = await driver.client.post(f"/api/cases/{case_no}/ratings", json=rating, headers=KIOSK)
            assert rated.status_code in (201, 202), rated.text
            await driver.state(case_no, "已评价")
        cases[case_no] = {"stage": stage, "next_seq": 0}
    await asyncio.sleep(3)  # timing's clock events and evaluation's rating windows follow the last commands
    for case_no, case in cases.items():
        case.update(await driver.view(case_no))
    return cases


async def main(namespace: str, out: Path) -> None:
    settings = load_settings(namespace=namespace, reply_timeout_s=15.0)
    await ensure_topics(settings)
    async with in_process_hall(settings) as hall:
        cases = await drive(Driver(hall.client))
    out.write_text(json.dumps(cases, ensure_ascii=False, indent=1), encoding="utf-8")  # noqa: ASYNC240 (at the end)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
