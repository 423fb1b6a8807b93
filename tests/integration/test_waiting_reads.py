"""Reads that wait for a change (services/gateway/changes.py), on the real hall.

``GET /api/cases/{case_no}`` and ``GET /api/steps/{step_id}`` answer with an ``ETag``; asked again with it in
``If-None-Match`` they answer ``304`` at once, or with ``Prefer: wait=N`` as soon as the answer changes (``304``
when it has not within N seconds); a step not made yet is waited for too. Access is checked before any wait.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.halls import InProcessHall
from tests.journeys import CLERK, STAFF, STAFF_ID, auth, open_step, submit

pytestmark = pytest.mark.integration


async def test_a_case_page_and_a_step_wait_for_their_change(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client)
    step_id = await open_step(client, case_no)  # 承办, in 自然资源局's inbox

    first = await client.get(f"/api/steps/{step_id}", headers=STAFF)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-store"
    assert "preference-applied" not in first.headers

    # The same answer asked again with its tag: 304 at once, no body; with a wait and no change: 304 after it.
    again = await client.get(f"/api/steps/{step_id}", headers={**STAFF, "If-None-Match": etag})
    assert (again.status_code, again.headers["etag"], again.content) == (304, etag, b"")
    started = time.monotonic()
    waited = await client.get(f"/api/steps/{step_id}", headers={**STAFF, "If-None-Match": etag, "Prefer": "wait=1"})
    assert (waited.status_code, waited.headers["preference-applied"]) == (304, "wait=1")
    assert time.monotonic() - started >= 1.0

    # A wait answered by the change: the staff member claims the step while the page waits for it.
    watching = asyncio.create_task(
        client.get(f"/api/steps/{step_id}", headers={**STAFF, "If-None-Match": etag, "Prefer": "wait=25"})
    )
    await asyncio.sleep(0.3)
    assert not watching.done()
    started = time.monotonic()
    claimed = await client.post(f"/api/steps/{step_id}/claim", headers=STAFF)
    assert claimed.status_code in (200, 202), claimed.text
    changed = await watching
    assert changed.status_code == 200, changed.text
    assert time.monotonic() - started < 10  # the change woke it, not the end of the wait
    assert changed.headers["etag"] != etag
    assert (first.json()["step"]["assignee_id"], changed.json()["step"]["assignee_id"]) == ("", STAFF_ID)

    # The next step (审核) does not exist until 承办 is decided: a wait for it is answered when routing makes it.
    case = await client.get(f"/api/cases/{case_no}", headers=CLERK)
    case_tag = case.headers["etag"]
    next_step = f"{case.json()['case_id']}-1-2"
    missing = await client.get(f"/api/steps/{next_step}", headers=STAFF)
    assert missing.status_code == 404
    step_made = asyncio.create_task(client.get(f"/api/steps/{next_step}", headers={**STAFF, "Prefer": "wait=25"}))
    case_moved = asyncio.create_task(
        client.get(f"/api/cases/{case_no}", headers={**CLERK, "If-None-Match": case_tag, "Prefer": "wait=25"})
    )
    await asyncio.sleep(0.3)
    assert not step_made.done()
    assert not case_moved.done()
    decided = await client.post(
        f"/api/steps/{step_id}/decision", json={"action": "通过", "opinion": "材料齐全"}, headers=STAFF
    )
    assert decided.status_code in (200, 202), decided.text
    made, moved = await step_made, await case_moved
    assert made.status_code == 200, made.text
    assert made.json()["step"]["seq"] == 2
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] != case_tag
    assert len(moved.json()["timeline"]) > len(case.json()["timeline"])


async def test_waiting_never_comes_before_access_and_bad_preferences_are_ignored(hall: InProcessHall) -> None:
    client = hall.client
    case_no = await submit(client)
    # Just submitted: the gateway's read models may not know the number yet; the wait covers that.
    case = await client.get(f"/api/cases/{case_no}", headers={**CLERK, "Prefer": "wait=20"})
    assert case.status_code == 200, case.text

    # 住建局's staff have no step of this case: refused at once, not after the wait.
    started = time.monotonic()
    refused = await client.get(f"/api/cases/{case_no}", headers={**auth("zj-zhao"), "Prefer": "wait=20"})
    assert refused.status_code == 403
    assert time.monotonic() - started < 5
    signed_out = await client.get(f"/api/cases/{case_no}", headers={"Prefer": "wait=20"})
    assert signed_out.status_code == 401

    # A wait longer than 30 s is shortened; one that is not a number of seconds is ignored.
    long = await client.get(f"/api/cases/{case_no}", headers={**CLERK, "Prefer": "wait=999"})
    assert (long.status_code, long.headers["preference-applied"]) == (200, "wait=30")
    for prefer in ("wait=abc", "wait=-1", "wait", "respond-async"):
        ignored = await client.get(f"/api/cases/{case_no}", headers={**CLERK, "Prefer": prefer})
        assert ignored.status_code == 200, prefer
        assert "preference-applied" not in ignored.headers, prefer

    # A case number nobody has: 404 at once, or after the wait.
    started = time.monotonic()
    unknown = await client.get("/api/cases/150525-20990101-9999", headers={**CLERK, "Prefer": "wait=1"})
    assert unknown.status_code == 404
    assert time.monotonic() - started >= 1.0
