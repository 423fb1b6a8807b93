"""运行监控 on the real processes (issue 17, item 4): every process ``./hall up`` would start (the services twice
where the e2e tier runs them twice, the gateway) registers itself under the name the launcher gave it, and the
gateway's ``/api/ops/instances`` shows each at the launcher's port, answering its /health, with its consumer lag
read from its /metrics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from deploy.processes import Launcher
from tests.journeys import auth
from tests.support import eventually

pytestmark = pytest.mark.e2e

OPERATOR = auth("op-qian")


async def test_the_ops_api_shows_every_running_instance(processes: Launcher, gateway: httpx.AsyncClient) -> None:
    names = [
        name
        for service in ("gateway", "intake", "routing", "timing", "evaluation")
        for name in processes.running_instances(service)
    ]
    assert "routing-2" in names

    async def all_answering() -> dict[str, dict[str, Any]] | None:
        answer = await gateway.get("/api/ops/instances", headers=OPERATOR)
        assert answer.status_code == 200, answer.text
        shown = {i["instance"]: i for s in answer.json()["services"] for i in s["instances"]}
        ready = all(
            name in shown and shown[name]["state"] in ("正常", "异常") and shown[name]["lag"] is not None
            for name in names
            if name != "gateway"
        )
        return shown if ready and "gateway" in shown else None

    shown = await eventually(all_answering, timeout_s=30, every_s=1.0)
    for name in names:
        assert shown[name]["address"] == f"127.0.0.1:{processes.port(name)}", shown[name]
    assert shown["gateway"]["state"] in ("正常", "异常")
    assert shown["routing-2"]["service"] == "routing"
