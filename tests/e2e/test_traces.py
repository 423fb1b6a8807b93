"""Traces in Zipkin (issue 17 items 1 and 2): the real Zipkin server ``./hall up`` starts (deploy/zipkin.sh, the jar
from Maven Central, fetched once into the cache) and the hall's five processes exporting to it as ``./hall up`` has
them (OTEL_TRACES_EXPORTER=zipkin). One case goes through all five services; Zipkin's API finds the submission's
trace with spans of all five, and every trace of the case by its number; the case view's 查看链路 opens that trace.

Its own processes (one instance of each service, exporting; the shared ``processes`` fixture does not export) and a
Zipkin on a free port, in a namespace of their own.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from deploy.processes import ROOT, SERVICES, Launcher
from shared.clock import OFFSET_VARIABLE, SYSTEM_CLOCK
from shared.settings import HallSettings
from shared.topics import ensure_topics
from tests.e2e.conftest import free_port
from tests.journeys import CLERK, auth, finish_journey, submit
from tests.support import eventually

pytestmark = pytest.mark.e2e
FIVE = {"gateway", "intake", "routing", "timing", "evaluation"}
OPERATOR = auth("op-qian")


@dataclass
class Traced:
    zipkin: str  # http://127.0.0.1:PORT
    gateway: str
    launcher: Launcher
    zipkin_s: float  # Zipkin's start, and the five services' until healthy (side by side)
    services_s: float


def zipkin(home: Path, port: int, command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HALL_HOME": str(home), "ZIPKIN_PORT": str(port)}
    return subprocess.run(
        [str(ROOT / "deploy" / "zipkin.sh"), command], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
async def traced(settings: HallSettings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Traced]:
    home = tmp_path_factory.mktemp("traced")
    port = free_port()
    # The jar, fetched from Maven Central into the cache the first time: a failure fails the test with Maven's
    # reason (nothing is skipped).
    fetched = await asyncio.to_thread(zipkin, home, port, "fetch")
    assert fetched.returncode == 0, f"deploy/zipkin.sh fetch failed:\n{fetched.stdout}\n{fetched.stderr}"
    namespace = f"{settings.namespace}z"
    await ensure_topics(msgspec.structs.replace(settings, namespace=namespace))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "REDIS_URL": settings.redis_url,
        "HALL_NAMESPACE": namespace,
        "HALL_REPLY_TIMEOUT_S": "15",
        OFFSET_VARIABLE: str(SYSTEM_CLOCK.offset.total_seconds()),
        # As ./hall up sets them (deploy/cli.py traces), for this Zipkin; spans sent every 0.3 s, not every 5 s.
        "OTEL_TRACES_EXPORTER": "zipkin",
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT": f"http://127.0.0.1:{port}/api/v2/spans",
        "OTEL_BSP_SCHEDULE_DELAY": "300",
        "HALL_COUNTERPART": "off",
    }
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER_ARG", "HALL_TRACES_URL"):
        env[variable] = ""  # the developer's own settings must not redirect this test's spans
    launcher = Launcher(home, env, {name: free_port() for name in SERVICES})
    # Zipkin starts (about 6 to 16 s) while the services do.
    began = time.monotonic()
    starting = asyncio.create_task(asyncio.to_thread(zipkin, home, port, "start"))
    try:
        for name in SERVICES:
            launcher.start(name)
        unhealthy = await asyncio.to_thread(launcher.wait_healthy, list(SERVICES), 90)
        services_s = time.monotonic() - began
        started = await starting
        zipkin_s = time.monotonic() - began
        assert started.returncode == 0, f"Zipkin did not start:\n{started.stdout}\n{started.stderr}"
        assert not unhealthy, f"not healthy: {unhealthy}; see logs in {home / 'logs'}"
        gateway = f"http://127.0.0.1:{launcher.ports['gateway']}"
        yield Traced(f"http://127.0.0.1:{port}", gateway, launcher, zipkin_s, services_s)
    finally:  # stopped side by side (each service drains on SIGTERM)
        if not starting.done():
            await starting
        stopping = asyncio.gather(*(asyncio.to_thread(launcher.stop, name) for name in SERVICES))
        stopped = await asyncio.to_thread(zipkin, home, port, "stop")
        await stopping
        assert "stopped" in stopped.stdout or "not running" in stopped.stdout, stopped.stdout + stopped.stderr


def services_of(spans: list[dict[str, Any]]) -> set[str]:
    return {str(span.get("localEndpoint", {}).get("serviceName", "")) for span in spans}


async def test_one_case_through_five_services_is_one_trace_in_zipkin_and_the_case_view_opens_it(
    traced: Traced,
) -> None:
    began = time.monotonic()
    # Zipkin listens on loopback only.
    port = traced.zipkin.rsplit(":", 1)[1]
    command = ["ss", "-ltnH", f"sport = :{port}"]
    listening = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=False)
    addresses = {line.split()[3] for line in listening.stdout.strip().splitlines()}
    assert addresses, "Zipkin does not listen"
    assert addresses <= {f"127.0.0.1:{port}", f"[::ffff:127.0.0.1]:{port}"}, listening.stdout  # not 0.0.0.0 / [::]
    async with (
        httpx.AsyncClient(base_url=traced.gateway, timeout=30) as hall,
        httpx.AsyncClient(base_url=traced.zipkin, timeout=10) as zipkin_api,
    ):
        case_no = await submit(hall)  # the clerk's click: gateway → intake → routing, timing, evaluation, gateway
        await finish_journey(hall, case_no)  # 承办 → 审核 → 决定, 出件, the rating
        timeline = (await hall.get(f"/api/cases/{case_no}", headers=CLERK)).json()["timeline"]
        accepted = next(e for e in timeline if e["type"] == "CaseAccepted.v1")
        rated = next(e for e in timeline if e["type"] == "RatingRecorded.v1")
        submission = accepted["trace_id"]
        assert re.fullmatch(r"[0-9a-f]{32}", submission), accepted
        assert rated["trace_id"]
        assert rated["trace_id"] != submission  # the rating is a request of its own

        async def whole_trace() -> list[dict[str, Any]] | None:
            answer = await zipkin_api.get(f"/api/v2/trace/{submission}")
            spans: list[dict[str, Any]] = answer.json() if answer.status_code == 200 else []
            return spans if services_of(spans) >= FIVE else None

        spans = await eventually(whole_trace, timeout_s=20, every_s=0.3)
        assert services_of(spans) == FIVE
        # A span per handled record, naming the case, the event and the outcome, in each service.
        handled = {
            (span["localEndpoint"]["serviceName"], span["tags"].get("hall.event_type"))
            for span in spans
            if span.get("tags", {}).get("hall.case_no") == case_no and span["tags"].get("hall.outcome") == "handled"
        }
        assert {service for service, _ in handled} == FIVE, handled
        assert ("routing", "CaseAccepted.v1") in handled
        assert ("intake", "SubmitApplication.v1") in handled  # numbered by intake: the case number set on its span
        assert any(s.get("kind") == "SERVER" and s["localEndpoint"]["serviceName"] == "gateway" for s in spans)

        # Every trace of the case, by its number (the linked traces: submission, decisions, delivery, rating).
        async def case_traces() -> list[list[dict[str, Any]]] | None:
            params = {"annotationQuery": f"hall.case_no={case_no}", "limit": "100"}
            found: list[list[dict[str, Any]]] = (await zipkin_api.get("/api/v2/traces", params=params)).json()
            ids = {trace[0]["traceId"] for trace in found if trace}
            return found if {submission, rated["trace_id"]} <= ids else None

        found = await eventually(case_traces, timeout_s=20, every_s=0.3)
        assert len(found) >= 5, [t[0]["traceId"] for t in found]  # submit, three decisions, delivery, rating …

        # The case view (operators) links each event to its trace, and the case to all of its traces.
        page = await hall.get(f"/sla/cases/{case_no}", headers=OPERATOR)
        assert page.status_code == 200, page.text
        assert f'href="{traced.zipkin}/zipkin/traces/{submission}"' in page.text
        assert "查看链路" in page.text
        search = f'href="{traced.zipkin}/zipkin/?annotationQuery=hall.case_no%3D{case_no}&amp;lookback=7d&amp;endTs='
        assert search in page.text
        desk = await hall.get(f"/desk/cases/{case_no}", headers=CLERK)  # the clerk's case page: the case's traces
        assert desk.status_code == 200, desk.text
        assert f'id="case-traces" href="{search[len("href=") + 1 :]}' in desk.text
        ui = await zipkin_api.get(f"/zipkin/traces/{submission}")  # the link opens Zipkin's UI (its page)
        assert ui.status_code == 200
        assert "zipkin" in ui.text.lower()
    print(  # noqa: T201 (the figures)
        f"\ntraces e2e: case {case_no}, {len(spans)} spans in its submission trace, {len(found)} traces of the case, "
        f"{time.monotonic() - began:.1f} s after start-up (Zipkin up in {traced.zipkin_s:.1f} s, "
        f"the services healthy in {traced.services_s:.1f} s, side by side)"
    )
