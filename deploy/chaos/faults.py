"""The faults, injected one after another into a sandbox hall, with the recovery each one took.

Recovery is measured from the moment of injection until every process answers ``/health`` ready and a
submission sent after the fault ended was answered 201. A fault counts as recovered only if that happens
within ``RECOVERY_LIMIT_S`` of the fault's end without any manual action: a process that exits on its own is
restarted by the harness afterwards (so the next fault can be measured), and that restart is named in the notes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from deploy.processes import SERVICES, Launcher
from deploy.sandbox import Sandbox

if TYPE_CHECKING:  # the client's module reads the settings when imported (tests/journeys.py)
    from deploy.chaos.driver import Client

RECOVERY_LIMIT_S = 120.0
KEYS = ("intake", "routing", "timing", "evaluation", "gateway", "broker", "kafka-stop", "redis-kill", "redis-wipe")


@dataclass
class Fault:
    key: str  # what --faults names it by
    name: str
    inject: Callable[[], None]  # blocking; run in a thread
    restore: Callable[[], None]
    down_s: float
    killed: tuple[str, ...] = ()  # hall processes the fault itself ends (the others must survive it)
    in_flight: bool = False  # wait until requests are in flight before injecting


@dataclass
class FaultResult:
    name: str
    injected_at: float  # seconds since the run started
    down_s: float
    recovery_s: float | None = None  # from injection; None: not recovered within the limit
    after_end_s: float | None = None  # from the fault's end
    notes: list[str] = field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return self.recovery_s is not None


def plan(launcher: Launcher, sandbox: Sandbox, *, kafka_stop_s: float, restart_after_s: float) -> list[Fault]:
    def kill(name: str) -> Callable[[], None]:
        return lambda: launcher.kill(name)

    def start(name: str) -> Callable[[], None]:
        return lambda: (launcher.start(name), None)[1]

    faults = [
        Fault(name, f"kill -9 {name}", kill(name), start(name), restart_after_s, killed=(name,))
        for name in ("intake", "routing", "timing", "evaluation")
    ]
    faults.append(
        Fault(
            "gateway",
            "kill -9 gateway, requests in flight",
            kill("gateway"),
            start("gateway"),
            restart_after_s,
            killed=("gateway",),
            in_flight=True,
        )
    )
    faults += [
        Fault("broker", "kill -9 Kafka broker", sandbox.kill_kafka, sandbox.start_kafka, restart_after_s),
        Fault("kafka-stop", f"Kafka stopped {kafka_stop_s:g} s", sandbox.stop_kafka, sandbox.start_kafka, kafka_stop_s),
        Fault("redis-kill", "kill -9 redis-server", sandbox.kill_redis, sandbox.start_redis, restart_after_s),
        Fault("redis-wipe", "Redis wiped", sandbox.wipe_redis, sandbox.start_redis, restart_after_s),
    ]
    return faults


async def all_healthy(launcher: Launcher) -> list[str]:
    """The services that do not answer ``/health`` ready right now."""
    bodies = await asyncio.gather(*(asyncio.to_thread(launcher.health, name) for name in SERVICES))
    return [
        name
        for name, body in zip(SERVICES, bodies, strict=True)
        if body is None or body.get("kafka") is not True or body.get("redis") is not True
    ]


async def run_fault(
    fault: Fault, client: Client, launcher: Launcher, started: float, log: Callable[[str], None]
) -> FaultResult:
    client.phase = fault.name
    if fault.in_flight:
        wait_until = time.monotonic() + 30
        while client.in_flight < 1 and time.monotonic() < wait_until:  # noqa: ASYNC110 (a counter, polled)
            await asyncio.sleep(0.001)
    injected = time.monotonic()
    result = FaultResult(fault.name, injected - started, fault.down_s)
    if fault.in_flight:
        result.notes.append(f"{client.in_flight} requests in flight at the kill")
    log(f"inject: {fault.name}")
    await asyncio.to_thread(fault.inject)
    await asyncio.sleep(fault.down_s)
    gone = [name for name in SERVICES if name not in fault.killed and launcher.pid(name) is None]
    await asyncio.to_thread(fault.restore)
    ended = time.monotonic()
    log(f"restored: {fault.name} after {ended - injected:.1f} s")

    healthy_at: float | None = None
    answered_at: float | None = None
    while time.monotonic() - ended < RECOVERY_LIMIT_S:
        if answered_at is None:
            answered_at = next((done for sent, done in client.successes if sent >= ended), None)
        if healthy_at is None and not await all_healthy(launcher):
            healthy_at = time.monotonic()
        if healthy_at is not None and answered_at is not None:
            recovered = max(healthy_at, answered_at)
            result.recovery_s = recovered - injected
            result.after_end_s = recovered - ended
            break
        await asyncio.sleep(0.25)
    exited = sorted({*gone, *(n for n in SERVICES if launcher.pid(n) is None)})
    if exited:
        # A process that ended by itself needs an operator: not recovered, whatever the probes said.
        result.recovery_s = result.after_end_s = None
        result.notes.append(f"exited on their own: {', '.join(exited)} (restarted by the harness)")
        for name in exited:
            launcher.start(name)
        await asyncio.to_thread(launcher.wait_healthy, list(SERVICES), 60.0)
    if not result.recovered:
        unhealthy = await all_healthy(launcher)
        if unhealthy:
            result.notes.append(f"still not ready after {RECOVERY_LIMIT_S:g} s: {', '.join(unhealthy)}")
        elif not any(sent >= ended for sent, _ in client.successes):
            result.notes.append(f"no submission answered 201 within {RECOVERY_LIMIT_S:g} s")
    log(
        f"recovered: {fault.name} in {result.recovery_s:.1f} s"
        if result.recovery_s is not None
        else f"NOT recovered: {fault.name}"
    )
    return result
