"""An application sent while intake is down is kept in Kafka and accepted once intake is back."""

from __future__ import annotations

import uuid

import httpx
import pytest

from deploy.processes import Launcher
from tests.journeys import APPLICATION, CLERK, state
from tests.support import eventually

pytestmark = pytest.mark.e2e


async def test_an_application_sent_while_intake_is_down_is_not_lost(
    processes: Launcher, gateway: httpx.AsyncClient
) -> None:
    processes.kill("intake")
    headers = {**CLERK, "Idempotency-Key": f"while-intake-is-down-{uuid.uuid4()}"}
    try:
        first = await gateway.post("/api/cases", json=APPLICATION, headers=headers)
        assert first.status_code == 202, first.text
        pending = first.json()
        assert pending["status"] == "处理中"
    finally:
        processes.start("intake")
    assert not processes.wait_healthy(["intake"], timeout_s=60)

    async def accepted() -> httpx.Response | None:
        # The kiosk asks again with the same key, and gets the first answer once intake has given it.
        again = await gateway.post("/api/cases", json=APPLICATION, headers=headers)
        return again if again.status_code == 201 else None

    answer = (await eventually(accepted, timeout_s=90, every_s=1.0)).json()
    assert answer["case_id"] == pending["case_id"]
    assert answer["outcome"] == "受理"
    case = await state(gateway, answer["case_no"], "办理中")
    assert [e["type"] for e in case["timeline"]].count("CaseAccepted.v1") == 1
