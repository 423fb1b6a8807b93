"""What the outage tests share: the hall's processes against a sandbox, and a client that submits cases at a
fixed rate, each under its own Idempotency-Key, retrying a key (as a kiosk does) until the hall accepts it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.processes import SERVICES, Launcher
from deploy.sandbox import Sandbox, free_port
from shared.clock import OFFSET_VARIABLE, SYSTEM_CLOCK
from shared.settings import HallSettings, load_settings
from shared.startup import wait_for_kafka
from shared.topics import ensure_topics
from tests.journeys import APPLICATION, CLERK, sign_in_again

RETRY_CAP_S = 5.0  # a kiosk retries after Retry-After (the hall says 5 s), at most this long


@dataclass
class Answer:
    key: str
    started: float  # monotonic
    took_s: float
    status: int  # 0: no answer (connection refused or the client's timeout)
    retry_after: str | None
    case_no: str | None
    detail: str = ""
    at: str = ""  # wall-clock start, to find the request in the logs


@dataclass
class Submissions:
    """Every answer the client got, and each key's case number once accepted."""

    answers: list[Answer] = field(default_factory=list)
    accepted: dict[str, set[str]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)

    def between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.started and a.started + a.took_s <= end]

    def statuses(self, answers: list[Answer] | None = None) -> Counter[int]:
        return Counter(a.status for a in (self.answers if answers is None else answers))

    def pending(self) -> list[str]:
        return [key for key in self.keys if key not in self.accepted]


@contextlib.contextmanager
def sandbox_settings(home: Path) -> Iterator[tuple[Sandbox, HallSettings]]:
    box = Sandbox(home / "sandbox")
    box.start()
    try:
        yield (
            box,
            load_settings(
                kafka_bootstrap_servers=box.kafka_bootstrap_servers,
                redis_url=box.redis_url,
                namespace=f"o{uuid.uuid4().hex[:6]}",
            ),
        )
    finally:
        box.stop()


@asynccontextmanager
async def hall_on(home: Path, box: Sandbox, hall: HallSettings) -> AsyncIterator[Launcher]:
    """The five processes against the sandbox, healthy; stopped afterwards."""
    await ensure_topics(hall)
    await wait_for_kafka(hall, "warm-up", 120.0)  # a brand-new broker: its group coordinator first
    env = {**box.env(), "HALL_NAMESPACE": hall.namespace, OFFSET_VARIABLE: str(SYSTEM_CLOCK.offset.total_seconds())}
    launcher = Launcher(home / "hall", env, {name: free_port() for name in SERVICES})
    for name in SERVICES:
        launcher.start(name)
    try:
        unhealthy = launcher.wait_healthy(list(SERVICES), timeout_s=120)
        assert not unhealthy, f"not healthy: {unhealthy}; see {home / 'hall' / 'logs'}"
        yield launcher
    finally:
        for name in SERVICES:
            launcher.stop(name)


async def health(client: httpx.AsyncClient, port: int) -> tuple[int, dict[str, Any]]:
    try:
        response = await client.get(f"http://127.0.0.1:{port}/health", timeout=10)
    except httpx.HTTPError as exc:
        return 0, {"error": repr(exc)}
    return response.status_code, response.json()


async def until_ready(client: httpx.AsyncClient, launcher: Launcher, since: float, within_s: float, what: str) -> float:
    """Seconds from ``since`` until every process answers ``/health`` ready; fails past ``within_s``."""
    while True:
        not_ready = await all_ready(client, launcher)
        if not not_ready:
            return time.monotonic() - since
        if time.monotonic() - since > within_s:
            raise AssertionError(f"not ready {within_s} s after {what} came back: {not_ready}")
        await asyncio.sleep(0.5)


async def all_ready(client: httpx.AsyncClient, launcher: Launcher) -> dict[str, Any]:
    """Every service's health that is not ready (empty: all ready)."""
    answers = await asyncio.gather(*(health(client, port) for port in launcher.ports.values()))
    return {name: body for name, (status, body) in zip(launcher.ports, answers, strict=True) if status != 200}


class Kiosks:
    """Submits a new application every ``1 / rate`` seconds; each key is retried until it is accepted (201)."""

    def __init__(self, base_url: str, rate: float, timeout_s: float = 40.0) -> None:
        # Enough connections for every key at once: an answer's time is the hall's, not a wait for the pool.
        # Idle connections are closed before the server closes them (uvicorn: 5 s), or a request sent on one the
        # server is closing meets a ReadError: a race of keep-alive, not an answer of the hall.
        limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200, keepalive_expiry=2.0)
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits)
        self.rate = rate
        self.seen = Submissions()
        self._tasks: set[asyncio.Task[None]] = set()
        self._feeding: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Kiosks:
        self._feeding = asyncio.create_task(self._feed())
        return self

    async def __aexit__(self, *_: object) -> None:
        self.stop_new()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()

    def stop_new(self) -> None:
        if self._feeding is not None:
            self._feeding.cancel()

    def resume(self) -> None:
        """New submissions again (after :meth:`stop_new`)."""
        if self._feeding is None or self._feeding.done():
            self._feeding = asyncio.create_task(self._feed())

    async def _feed(self) -> None:
        while True:
            key = f"kiosk-{uuid.uuid4().hex[:12]}"
            self.seen.keys.append(key)
            task = asyncio.create_task(self._until_accepted(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(1 / self.rate)

    async def submit(self, key: str) -> Answer:
        started = time.monotonic()
        at = SYSTEM_CLOCK.now().strftime("%H:%M:%S.%f")[:-3]
        try:
            response = await self.client.post("/api/cases", json=APPLICATION, headers={**CLERK, "Idempotency-Key": key})
        except httpx.HTTPError as exc:
            answer = Answer(key, started, time.monotonic() - started, 0, None, None, repr(exc), at)
        else:
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            answer = Answer(
                key,
                started,
                time.monotonic() - started,
                response.status_code,
                response.headers.get("retry-after"),
                body.get("case_no") if isinstance(body, dict) else None,
                str(body.get("detail", ""))[:200] if isinstance(body, dict) else "",
                at,
            )
        self.seen.answers.append(answer)
        if answer.status == 201 and answer.case_no:
            self.seen.accepted.setdefault(key, set()).add(answer.case_no)
        return answer

    async def _until_accepted(self, key: str) -> None:
        while True:
            answer = await self.submit(key)
            if answer.status == 201:
                # One more retry of an accepted key: it must give the same case number.
                await self.submit(key)
                return
            if answer.status == 401:  # the gateway's Redis was wiped: sessions from before are refused
                sign_in_again()
                continue
            wait = float(answer.retry_after) if answer.retry_after and answer.retry_after.isdigit() else RETRY_CAP_S
            await asyncio.sleep(min(wait, RETRY_CAP_S))

    async def drained(self, within_s: float) -> float:
        """Waits until every key so far is accepted; returns how long it took."""
        started = time.monotonic()
        while self.seen.pending():
            if time.monotonic() - started > within_s:
                raise AssertionError(
                    f"{len(self.seen.pending())} of {len(self.seen.keys)} keys not accepted within {within_s} s; "
                    f"last answers: {self.seen.answers[-5:]}"
                )
            await asyncio.sleep(0.5)
        return time.monotonic() - started


def summary(name: str, seen: Submissions, **figures: object) -> str:
    extra = " ".join(f"{k}={v}" for k, v in figures.items())
    return f"{name}: {len(seen.keys)} keys, {len(seen.answers)} answers {dict(seen.statuses())} {extra}"
