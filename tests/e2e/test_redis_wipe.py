"""Redis wiped (replaced by an empty one) under the running hall (issue 12, items 7, 8 and 10).

Before: nobody noticed. The services went on writing into the empty Redis; intake handed out case numbers again,
the gateway no longer knew the earlier cases (the chaos quick run: 1,299 accepted cases lost). Now every process
watches its ``built`` key: once Redis answers without it, it handles nothing more (the gateway answers 503 with
Retry-After), drains and exits with 75; its supervisor (``deploy/supervise.py``) starts it again and it rebuilds
from Kafka before consuming. No operator acts.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.processes import SERVICES
from tests.e2e.outage import Kiosks, hall_on, sandbox_settings, summary
from tests.journeys import CLERK, STAFF, sign_in_again

pytestmark = pytest.mark.e2e
RATE = 2.0
BEFORE = 8  # cases accepted before the wipe
RECOVER_S = 60.0
CLOCKS = 3  # an accepted case's clocks: the promise, the 自然资源局 step, the rating window


async def test_redis_wiped_under_the_running_hall_comes_back_from_kafka(tmp_path: Path) -> None:
    with sandbox_settings(tmp_path) as (box, hall):
        async with hall_on(tmp_path, box, hall) as launcher:
            pids = {name: launcher.pid(name) for name in SERVICES}
            base = f"http://127.0.0.1:{launcher.ports['gateway']}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client, Kiosks(base, RATE) as kiosks:
                while len(kiosks.seen.accepted) < BEFORE:  # noqa: ASYNC110 (a counter, polled)
                    await asyncio.sleep(0.2)
                kiosks.stop_new()
                await kiosks.drained(within_s=60)
                earlier = {key: next(iter(numbers)) for key, numbers in kiosks.seen.accepted.items()}
                first = sorted(earlier.values())[0]
                step_before = await _step(client, first, within_s=60)
                views: dict[str, dict[str, Any]] = {}
                for case_no in earlier.values():  # each case's clock and step are there before the wipe
                    views[case_no] = await _settled(client, case_no, within_s=60)
                kiosks.resume()
                await asyncio.sleep(2)

                await asyncio.to_thread(box.wipe_redis)
                wiped_at = time.monotonic()
                await asyncio.to_thread(box.start_redis)
                await asyncio.sleep(10)
                kiosks.stop_new()
                drained_s = await kiosks.drained(within_s=RECOVER_S)
                recovered_s = time.monotonic() - wiped_at

                # Every earlier case reads again, as it read before the wipe (timeline and dossier).
                for case_no, before in views.items():
                    after = await _settled(client, case_no, within_s=RECOVER_S)
                    assert after["state"] == before["state"], (case_no, before["state"], after["state"])
                    assert after["timeline"] == before["timeline"], case_no
                    assert after["dossier"] == before["dossier"], case_no
                # A key accepted before the wipe, retried after it, gets its own number again.
                key, case_no = next(iter(earlier.items()))
                again = await kiosks.submit(key)
                assert (again.status, again.case_no) == (201, case_no), again
                # New submissions got numbers never given before: no number reused.
                seen = kiosks.seen
                assert all(len(numbers) == 1 for numbers in seen.accepted.values()), seen.accepted
                numbers = [next(iter(seen.accepted[key])) for key in seen.keys]
                assert len(set(numbers)) == len(numbers), sorted(numbers)
                later = [n for k, n in zip(seen.keys, numbers, strict=True) if k not in earlier]
                assert later, "nothing was accepted after the wipe"
                assert min(later) > max(earlier.values()), (sorted(earlier.values()), sorted(later))
                # One more step of an earlier case: its 承办 step is decided and 审核 opens.
                step_after = await _step(client, first, within_s=RECOVER_S)
                assert step_after == step_before
                decided = await client.post(
                    f"/api/steps/{step_after}/decision", json={"action": "通过", "opinion": "材料齐全"}, headers=STAFF
                )
                assert decided.status_code in (200, 202), decided.text
                next_step = await _step(client, first, within_s=30, other_than=step_after)
                assert next_step != step_after

                answered = seen.statuses()
                print(  # noqa: T201
                    summary(
                        "redis wipe",
                        seen,
                        before=len(earlier),
                        accepted_again_after_s=round(drained_s + 10, 1),
                        recovered_s=round(recovered_s, 1),
                    )
                )
                assert not [a for a in seen.answers if a.status >= 500 and a.status != 503], seen.answers[-5:]
                assert all(a.retry_after for a in seen.answers if a.status == 503)
            # Every process noticed the wipe and was started again by its supervisor, nobody else.
            assert {name: launcher.pid(name) for name in SERVICES} == pids
            for name in SERVICES:
                log = launcher.log_file(name).read_text(errors="replace")
                assert f"services.{name} exited with 75" in log, f"{name} did not restart to rebuild"
                assert "rebuilt" in log.split(f"services.{name} exited with 75", 1)[1], f"{name} did not rebuild"
            assert answered.get(201, 0) >= len(seen.keys)


async def _settled(client: httpx.AsyncClient, case_no: str, within_s: float) -> dict[str, Any]:
    """The case as staff read it, once timing has started its three clocks (the promise, the step, the rating
    window) and the dossier has its promised deadline: a snapshot taken earlier would miss later entries."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            response = await client.get(f"/api/cases/{case_no}", headers=CLERK)
            if response.status_code == 401:  # sessions from before the wipe are refused: sign in again
                sign_in_again()
            body: dict[str, Any] = response.json() if response.status_code == 200 else {}
        except httpx.HTTPError:
            body = {}
        clocks = [e for e in body.get("timeline", []) if e.get("type") == "ClockStarted.v1"]
        if body.get("dossier") and body["dossier"].get("promised_deadline") and len(clocks) >= CLOCKS:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{case_no} not readable within {within_s} s: {body}")
        await asyncio.sleep(0.5)


async def _step(client: httpx.AsyncClient, case_no: str, within_s: float, other_than: str | None = None) -> str:
    """The case's step waiting in 自然资源局's inbox."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            response = await client.get("/api/departments/自然资源局/steps", params={"limit": 200}, headers=STAFF)
            if response.status_code == 401:  # sessions from before the wipe are refused: sign in again
                sign_in_again()
            steps = response.json()["items"] if response.status_code == 200 else []
        except httpx.HTTPError:
            steps = []
        found = [
            s["step_id"] for s in steps if s["case_no"] == case_no and not s["waiting"] and s["step_id"] != other_than
        ]
        if found:
            return str(found[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"no open step of {case_no} within {within_s} s")
        await asyncio.sleep(0.5)
