"""A second routing process joins routing's consumer group while cases are being decided, takes over some
partitions, and is later killed with SIGKILL: every step still opens once and is decided once, every case
completes once and is delivered once (real Kafka, real Redis, the hall's real processes).

The drivers' decisions wait at two gates (the second has joined; it was killed), so that the hall being fast never
lets the work end before the second routing joined or was killed (the test failed so now and then: the 90
decisions were done before the second had its partitions)."""

from __future__ import annotations

import asyncio
import functools
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.processes import Launcher
from tests.e2e.conftest import free_port
from tests.journeys import CLERK, STAFF, inbox_steps, submit
from tests.support import eventually

pytestmark = pytest.mark.e2e
CASES = 30
PATIENCE_S = 120.0  # a killed member's partitions move on only after its session times out
ASSIGNED = re.compile(r"newly assigned partitions \{(.+?)\} for group ([^\s\"]+)")  # a JSON line's message


async def next_step(client: httpx.AsyncClient, case_no: str, done: set[str]) -> str | None:
    steps = [
        s
        for s in await inbox_steps(client, "/api/departments/自然资源局/steps", STAFF)
        if s["case_no"] == case_no and s["step_id"] not in done
    ]
    return steps[0]["step_id"] if steps else None


async def reached(client: httpx.AsyncClient, case_no: str, wanted: str) -> bool | None:
    response = await client.get(f"/api/cases/{case_no}", headers=CLERK)
    return True if response.status_code == 200 and response.json()["state"] == wanted else None


async def handle(
    client: httpx.AsyncClient, case_no: str, progress: list[int], gates: tuple[asyncio.Event, asyncio.Event]
) -> list[str]:
    """承办 → 审核 → 决定, then the delivery; a late answer (202) is waited out, never resent. 审核 waits for the
    first gate (the second routing has joined) and 决定 for the second (it was killed): however fast the hall,
    decisions are made before, while and after the second routing is a member."""
    done: set[str] = set()
    for opinion, gate in zip(("材料齐全", "审核同意", "准予"), (None, *gates), strict=True):
        if gate is not None:
            await gate.wait()
        await asyncio.sleep(random.uniform(0.1, 1.0))  # staff take their time: the load stays spread out
        step_id = await eventually(functools.partial(next_step, client, case_no, done), PATIENCE_S, 0.25)
        decided = await client.post(
            f"/api/steps/{step_id}/decision", json={"action": "通过", "opinion": opinion}, headers=STAFF
        )
        assert decided.status_code in (200, 202), decided.text
        done.add(step_id)
        progress.append(1)
    await eventually(functools.partial(reached, client, case_no, "已办结"), PATIENCE_S, 0.25)
    delivered = await client.post(f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=CLERK)
    assert delivered.status_code in (200, 202), delivered.text
    await eventually(functools.partial(reached, client, case_no, "已出件"), PATIENCE_S, 0.25)
    return sorted(done)


async def until(progress: list[int], decisions: int) -> None:
    async def enough() -> bool | None:
        return True if len(progress) >= decisions else None

    await eventually(enough, PATIENCE_S, 0.05)


def assignments(log: Path, group: str) -> list[str]:
    """The partitions a process was given in ``group``, as its Kafka client logged them."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return [parts for parts, named in ASSIGNED.findall(text) if named == group]


async def test_a_second_routing_joins_under_load_and_is_killed_without_losing_or_repeating_a_step(
    processes: Launcher, gateway: httpx.AsyncClient, tmp_path: Path
) -> None:
    namespace = processes.env["HALL_NAMESPACE"]
    second = Launcher(tmp_path, processes.env, {"routing": free_port()})
    case_numbers = await asyncio.gather(*(submit(gateway) for _ in range(CASES)))
    progress: list[int] = []
    joined_gate, killed_gate = asyncio.Event(), asyncio.Event()
    gates = (joined_gate, killed_gate)
    drivers = [asyncio.create_task(handle(gateway, case_no, progress, gates)) for case_no in case_numbers]
    try:
        await until(progress, CASES // 2)
        second.start("routing")  # joins the group mid-flight: a rebalance while decisions keep coming
        assert not second.wait_healthy(["routing"], timeout_s=60)

        group = f"{namespace}.routing"

        async def joined() -> list[str] | None:
            """Some of routing's command partitions went to the second (on its commands' consumer)."""
            taken = assignments(second.log_file("routing"), group)
            return taken if any("routing.commands" in parts for parts in taken) else None

        async def shared() -> bool | None:
            """The first process gave up some of routing's command partitions to the second."""
            # Commands have a consumer of their own: its latest assignment is the last one naming them.
            mine = [parts for parts in assignments(processes.log_file("routing"), group) if "routing.commands" in parts]
            return True if mine and mine[-1].count("routing.commands") < 6 else None

        await eventually(joined, timeout_s=60, every_s=0.5)
        await eventually(shared, timeout_s=60, every_s=0.5)
        joined_gate.set()  # 审核 may go on, through both routing processes
        await until(progress, CASES + CASES // 2)
        second.kill("routing")  # SIGKILL mid-flight: half the 审核 decisions still coming, some taken, uncommitted
        killed_gate.set()  # 决定 and the deliveries after it
        steps = await asyncio.wait_for(asyncio.gather(*drivers), timeout=4 * PATIENCE_S)
    finally:
        second.stop("routing")
        for driver in drivers:
            driver.cancel()

    assert len({step for case in steps for step in case}) == 3 * CASES
    for case_no in case_numbers:
        view: dict[str, Any] = (await gateway.get(f"/api/cases/{case_no}", headers=CLERK)).json()
        counts = Counter(entry["type"] for entry in view["timeline"])
        assert counts["StepOpened.v1"] == 3, (case_no, counts)
        assert counts["StepDecided.v1"] == 3, (case_no, counts)
        assert counts["CaseCompleted.v1"] == 1, (case_no, counts)
        assert counts["CaseDelivered.v1"] == 1, (case_no, counts)
    for case in steps:
        for step_id in case:
            detail = (await gateway.get(f"/api/steps/{step_id}", headers=STAFF)).json()
            assert detail["step"]["status"] == "已办", detail
            assert [r["action"] for r in detail["records"]].count("通过") == 1, detail["records"]
    inbox = {"steps": await inbox_steps(gateway, "/api/departments/自然资源局/steps", STAFF)}
    assert not [s for s in inbox["steps"] if s["case_no"] in case_numbers]
