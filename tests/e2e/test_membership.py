"""A broker killed (kill -9) and back: timing stays in (or rejoins) its consumer group by itself, its committed
offsets move again and its lag returns to 0, without restarting it. Against a sandbox, never the shared Kafka."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from shared import topics
from shared.topics import ensure_topics
from tests.e2e.faults import committed, lag, launcher, sandbox, send_requests, until

pytestmark = [pytest.mark.e2e, pytest.mark.faults]  # ./hall test -m faults (long: not in the default run)
DOWN_S = 15.0  # longer than the group's session timeout (10 s): the broker drops the member when it returns


def health(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:
            body: dict[str, object] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as refused:
        refusal: dict[str, object] = json.loads(refused.read() or b"{}")
        return refusal
    except OSError:
        return {}


async def test_timing_consumes_and_commits_again_after_a_broker_kill(tmp_path: Path) -> None:
    with sandbox(tmp_path) as (box, hall):
        await ensure_topics(hall)
        processes = launcher(tmp_path, box, hall)
        processes.start("timing")
        try:
            assert not processes.wait_healthy(["timing"], timeout_s=90), "timing did not start"
            pid = processes.pid("timing")
            await send_requests(hall, 200)

            async def caught_up() -> bool:
                return await lag(hall, "timing", topics.INTAKE_EVENTS) == 0

            await until(caught_up, 60, "timing commits what it handled before the kill")
            before = await committed(hall, "timing", topics.INTAKE_EVENTS)

            box.kill_kafka()
            await asyncio.sleep(DOWN_S)
            box.start_kafka()
            killed_at = time.monotonic()
            await send_requests(hall, 300)

            took = await until(caught_up, 120, "timing's lag back to 0 after the broker returned")
            after = await committed(hall, "timing", topics.INTAKE_EVENTS)
            print(f"lag back to 0 in {took:.1f} s after the broker returned")  # noqa: T201 (the figure)
            assert sum(after.values()) >= sum(before.values()) + 300  # the committed offsets moved on
            assert processes.pid("timing") == pid  # nobody restarted it

            async def ready() -> bool:
                return health(processes.ports["timing"]).get("ready") is True

            await until(ready, 60, "timing reports ready")
            # Still consuming and committing a while later (not a last gasp before leaving the group).
            await send_requests(hall, 50)
            await until(caught_up, 60, "timing keeps up after the broker returned")
            print(f"still caught up {time.monotonic() - killed_at:.0f} s after the broker returned")  # noqa: T201
        finally:
            processes.stop("timing")
