"""``./hall logs --case NO`` on the hall's own processes (issue 17, item 7): a case submitted through the gateway
and a refused look at it leave JSON lines in the gateway's log (with the case number and the request's trace id),
and the command finds them among every service's logs."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from deploy.cli import main as cli
from deploy.logs import case_lines
from deploy.processes import Launcher
from tests.journeys import auth, state, submit
from tests.support import eventually

pytestmark = pytest.mark.e2e


async def test_a_cases_lines_are_found_by_hall_logs_case(
    processes: Launcher, gateway: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    case_no = await submit(gateway)
    await state(gateway, case_no, "办理中")  # through intake and routing
    refused = await gateway.get(f"/api/cases/{case_no}", headers=auth("zj-zhao"))  # 住建局 has no step on it
    assert refused.status_code == 403, refused.text
    logs = processes.home / "logs"

    async def found() -> list[dict[str, Any]] | None:
        lines = case_lines(logs, case_no)
        return lines if any(line["message"].startswith("403 GET /api/cases/") for line in lines) else None

    lines = await eventually(found, timeout_s=20)
    line = next(x for x in lines if x["message"].startswith("403 GET /api/cases/"))
    assert (line["service"], line["level"], line["logger"]) == ("gateway", "INFO", "hall.gateway.http")
    assert line["case_no"] == case_no
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00", line["time"])
    # The gateway writes JSON lines from its start on (uvicorn's records too).
    written = (logs / "gateway.log").read_text(encoding="utf-8").splitlines()
    assert sum(text.startswith("{") for text in written) >= 1

    assert cli(["--home", str(processes.home), "logs", "--case", case_no, "--json"]) == 0
    printed = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line in printed
    assert all(x.get("case_no") == case_no or x.get("case_id") for x in printed)
    # Every service names the case on the line of each event it handled (shared/kafka.py binds it while handling).
    handled = {x["service"] for x in printed if x["message"].startswith(f"{x['service']}: handled ")}
    assert {"intake", "routing", "timing"} <= handled, handled
