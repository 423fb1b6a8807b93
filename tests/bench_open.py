"""Lifecycles for ``./hall bench``: each case followed through its own endpoints, closed or open loop.

A lifecycle is what a clerk, the 自然资源局's staff and a kiosk do with one case: submit it (``POST /api/cases``),
decide its 承办, 审核 and 决定 (``POST /api/steps/{step_id}/decision``, each once the step is open), hand out the
result (``POST /api/deliveries/{case_no}``) and rate it (``POST /api/cases/{case_no}/ratings``), waiting for each
effect on that case's own endpoints: ``GET /api/steps/{step_id}`` until the step is 待办, ``GET
/api/cases/{case_no}`` until the case is 已办结, 已出件, 已评价. No department-wide list is read. Each look sends the
``ETag`` of the last answer with ``Prefer: wait=10``: the gateway answers when the case or step changes (or 304
after 10 s), as the hall's pages do, so a lifecycle asks about once per change instead of every few milliseconds.

The API has no answer that lists one case's steps to the staff who decide them (``GET /api/cases/{case_no}`` gives
the timeline without step ids; ``GET /api/sla/cases/{case_no}`` lists the steps' clocks, to supervisors and
operators only, once timing has started them). So the bench takes the case id from the submission's answer and the
step ids as routing makes them (``{case_id}-{track}-{seq}``, services/routing/plan.py ``open_step``), and asks each
step's own endpoint whether it is open yet: that is a code detail, not a contract of the API.

Every lifecycle signs in afresh (its own bearer tokens for the demo clerk, staff member and kiosk), as the many
people behind these lifecycles would: the gateway's per-caller limit (``HALL_API_RATE_PER_MINUTE``) then counts one
lifecycle's requests, not the whole bench's.

Open loop (``--rates``): at rate R, lifecycle i starts at ``t0 + i / R`` whether or not earlier ones finished, for
``hold`` seconds; its latencies count from its scheduled start, so a late start counts too. After the hold the
lifecycles still under way get ``drain`` seconds more; what is unfinished then is cancelled and counted. A rate is
sustained when every lifecycle started finished, none failed, and the end-to-end p99 is under ``GOAL_P99_S``.
"""

from __future__ import annotations

import asyncio
import functools
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.bench_cpu import CpuUse, Processes
from tests.journeys import APPLICATION, CLERK_ID, KIOSK_ID, KIOSK_PROOF, STAFF_ID, auth

GOAL_P99_S = 2.0
WAIT_S = 10  # a look at a case or step waits this long at most for it to change (Prefer: wait)
OPINIONS = ("材料齐全", "审核同意", "准予")  # 承办 → 审核 → 决定, each opened when the last is decided
TRACK = 1  # a single item's one track (a 一件事's children are tracks 1, 2, …)
# The routes a lifecycle calls, each about its one case (``{…}`` is that case's or step's own id), and the answers
# it takes (a command may be answered 202 while its service catches up: it is safe in Kafka, and the lifecycle
# waits for its effect just the same).
WANTED: dict[str, tuple[int, ...]] = {
    "POST /api/cases": (201,),
    "GET /api/steps/{step_id}": (200,),
    "POST /api/steps/{step_id}/decision": (200, 202),
    "GET /api/cases/{case_no}": (200,),
    "POST /api/deliveries/{case_no}": (200, 202),
    "POST /api/cases/{case_no}/ratings": (201, 202),
}
ROUTES = frozenset(WANTED)


class LifecycleFailed(Exception):
    """A lifecycle got an answer it should not have, or waited too long: ``kind`` names which, for counting."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def say(line: str) -> None:
    """A line of the bench's output, at once (a rate takes minutes)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Lifecycle:
    submit_s: float  # from its start until the case number was answered
    total_s: float  # from its start until the rating was recorded (the case 已评价)
    requests: Counter[str]  # what it sent, by route


class Follower:
    """Runs lifecycles on one HTTP client, counting every request sent by route (the failed lifecycles' too)."""

    def __init__(self, client: httpx.AsyncClient, poll_s: float, timeout_s: float) -> None:
        self.client = client
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.requests: Counter[str] = Counter()

    async def run(self, start: float) -> Lifecycle:
        """One lifecycle, its latencies counted from ``start`` (``time.perf_counter()``; open loop: its schedule)."""
        return await _Trip(self).run(start)


class _Trip:
    """One lifecycle under way: its own sessions and its own count of requests."""

    def __init__(self, follower: Follower) -> None:
        self.follower = follower
        self.sent: Counter[str] = Counter()
        self.clerk, self.staff, self.kiosk = auth(CLERK_ID), auth(STAFF_ID), auth(KIOSK_ID)
        self.tags: dict[str, str] = {}  # the ETag of the last answer seen, by URL

    async def call(self, method: str, route: str, headers: dict[str, str], body: Any = None, **ids: str) -> Any:
        """The answer's body once it has one of the codes wanted for ``route``."""
        name = f"{method} {route}"
        self._count(name)
        try:
            response = await self.follower.client.request(method, route.format(**ids), headers=headers, json=body)
        except httpx.TransportError as failed:
            raise LifecycleFailed(f"{name} {type(failed).__name__}") from failed
        return self._wanted(name, response)

    async def look(self, route: str, headers: dict[str, str], **ids: str) -> Any:
        """The body of ``GET route`` once it differs from the last one seen (the gateway waits for the change:
        ``If-None-Match`` and ``Prefer: wait``); None when it has not changed, or is not there yet, within the wait."""
        name = f"GET {route}"
        self._count(name)
        url = route.format(**ids)
        asked = {**headers, "Prefer": f"wait={WAIT_S}"}
        if url in self.tags:
            asked["If-None-Match"] = self.tags[url]
        try:
            response = await self.follower.client.get(url, headers=asked)
        except httpx.TransportError:
            response = await self.follower.client.get(url, headers=asked)  # a GET is safe to repeat
        if response.status_code in (304, 404):
            if "preference-applied" not in response.headers:  # answered at once: not too often again
                await asyncio.sleep(self.follower.poll_s)
            return None
        found = self._wanted(name, response)
        self.tags[url] = response.headers.get("etag", "")
        return found

    def _count(self, name: str) -> None:
        self.sent[name] += 1
        self.follower.requests[name] += 1

    @staticmethod
    def _wanted(name: str, response: httpx.Response) -> Any:
        if response.status_code not in WANTED[name]:
            raise LifecycleFailed(f"{name} {response.status_code}", response.text[:200])
        return response.json()

    async def run(self, start: float) -> Lifecycle:
        answer = await self.call("POST", "/api/cases", self.clerk, APPLICATION)
        case_no, case_id = answer["case_no"], answer["case_id"]
        submitted = time.perf_counter() - start
        for seq, opinion in enumerate(OPINIONS, start=1):
            step_id = f"{case_id}-{TRACK}-{seq}"
            await self.until(f"step {step_id} open", functools.partial(self.step_open, step_id))
            decision = {"action": "通过", "opinion": opinion}
            await self.call("POST", "/api/steps/{step_id}/decision", self.staff, decision, step_id=step_id)
        await self.state(case_no, "已办结")
        await self.call("POST", "/api/deliveries/{case_no}", self.clerk, {"method": "窗口"}, case_no=case_no)
        await self.state(case_no, "已出件")
        rating = {"level": "非常满意", "channel": "自助终端", **KIOSK_PROOF}
        await self.call("POST", "/api/cases/{case_no}/ratings", self.kiosk, rating, case_no=case_no)
        await self.state(case_no, "已评价")
        return Lifecycle(submitted, time.perf_counter() - start, self.sent)

    async def step_open(self, step_id: str) -> bool:
        """404 until the gateway's workbench has the step; then open once 待办 and not waiting."""
        found = await self.look("/api/steps/{step_id}", self.staff, step_id=step_id)
        return found is not None and found["step"]["status"] == "待办" and not found["step"]["waiting"]

    async def state(self, case_no: str, wanted: str) -> None:
        async def reached() -> bool:
            found = await self.look("/api/cases/{case_no}", self.clerk, case_no=case_no)
            return found is not None and found["state"] == wanted

        await self.until(wanted, reached)

    async def until(self, what: str, probe: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.perf_counter() + self.follower.timeout_s
        while not await probe():
            if time.perf_counter() > deadline:
                raise LifecycleFailed(f"waited {self.follower.timeout_s:g} s for {what}")


def client_for(base_url: str, connections: int) -> httpx.AsyncClient:
    # Idle connections are dropped before uvicorn's keep-alive of 5 s would close them under a request.
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0)
    return httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits)


@dataclass
class RateResult:
    """One open-loop rate: what started and finished, latencies, failures, and CPU over the interval."""

    rate: float
    hold_s: float
    started: int = 0
    done: list[Lifecycle] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    unfinished: int = 0
    wall_s: float = 0.0
    cpu: CpuUse | None = None

    @property
    def finished(self) -> int:
        return len(self.done)

    @property
    def totals(self) -> list[float]:
        return [d.total_s for d in self.done]

    @property
    def submits(self) -> list[float]:
        return [d.submit_s for d in self.done]

    @property
    def e2e_p99_s(self) -> float:
        return percentile(self.totals, 99) if self.done else math.inf

    @property
    def in_flight(self) -> float:
        """Lifecycles under way on average (Little's law: the rate times the mean time a lifecycle takes)."""
        return self.rate * statistics.fmean(self.totals) if self.done else 0.0

    @property
    def sustained(self) -> bool:
        return bool(self.started) and self.finished == self.started and self.e2e_p99_s < GOAL_P99_S

    def verdict(self) -> str:
        if self.sustained:
            return "yes"
        if self.finished < self.started:
            return f"no ({self.started - self.finished} unfinished or failed)"
        return f"no (p99 ≥ {GOAL_P99_S:g} s)"


async def run_rate(
    base_url: str, rate: float, *, hold_s: float, drain_s: float, poll_s: float, processes: Processes
) -> tuple[RateResult, Counter[str]]:
    """Lifecycles started at ``rate`` a second for ``hold_s`` seconds, each at its time; ``drain_s`` more to
    finish. Returns the result and the requests sent by route."""
    result = RateResult(rate=rate, hold_s=hold_s, started=max(1, round(rate * hold_s)))
    async with client_for(base_url, 256) as client:
        follower = Follower(client, poll_s, timeout_s=hold_s + drain_s)
        before = processes.snapshot()
        t0 = time.perf_counter()

        async def one(i: int) -> None:
            at = t0 + i / rate
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            try:
                result.done.append(await follower.run(at))
            except LifecycleFailed as failed:
                result.failures[failed.kind] += 1

        tasks = [asyncio.create_task(one(i)) for i in range(result.started)]
        _, pending = await asyncio.wait(tasks, timeout=hold_s + drain_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        result.unfinished = len(pending)
        result.wall_s = time.perf_counter() - t0
        result.cpu = CpuUse.between(before, processes.snapshot(), result.wall_s, result.finished)
    return result, follower.requests


def _ms(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values) * 1000:.0f} / {percentile(values, 99) * 1000:.0f}"


def _s(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.2f} / {percentile(values, 99):.2f}"


HEADER = (
    f"  {'rate/s':>7} {'started':>8} {'finished':>9} {'failed':>7} {'unfinished':>11} "
    f"{'submit p50/p99 ms':>18} {'e2e p50/p99 s':>14} {'in flight':>10}  sustained"
)


def row(result: RateResult) -> str:
    failed = sum(result.failures.values())
    return (
        f"  {result.rate:7g} {result.started:8d} {result.finished:9d} {failed:7d} {result.unfinished:11d} "
        f"{_ms(result.submits):>18} {_s(result.totals):>14} {result.in_flight:10.1f}  {result.verdict()}"
    )


def cpu_matrix(results: list[RateResult]) -> list[str]:
    """ms of CPU per finished lifecycle for each process (its share of a core in brackets), one column a rate."""
    measured = [r for r in results if r.cpu is not None and r.finished]
    if not measured:
        return ["  (no lifecycle finished: no CPU per lifecycle)"]
    names = list(measured[0].cpu.seconds) if measured[0].cpu else []
    lines = ["  " + f"{'process':<14}" + "".join(f"{f'{r.rate:g}/s':>18}" for r in measured)]
    for name in [*names, "all but bench"]:
        cells = []
        for r in measured:
            assert r.cpu is not None
            seconds = r.cpu.hall_s() if name == "all but bench" else r.cpu.seconds.get(name, 0.0)
            cells.append(f"{seconds * 1000 / r.finished:9.1f} ({seconds / r.wall_s:4.2f})")
        lines.append(f"  {name:<14}" + "".join(f"{c:>18}" for c in cells))
    return lines


def finished_requests(results: list[RateResult]) -> tuple[Counter[str], int]:
    """What the finished lifecycles sent, by route, and how many they were."""
    sent: Counter[str] = Counter()
    for result in results:
        for done in result.done:
            sent += done.requests
    return sent, sum(r.finished for r in results)


def requests_line(requests: Counter[str], lifecycles: int) -> str:
    """The requests a finished lifecycle sent on average, by route (most of them are its polls)."""
    if not lifecycles:
        return "  requests per lifecycle: —"
    total = sum(requests.values()) / lifecycles
    parts = ", ".join(f"{route} {count / lifecycles:.1f}" for route, count in requests.most_common())
    return f"  requests per lifecycle   {total:8.1f}   ({parts})"


async def open_loop(
    base_url: str,
    rates: list[float],
    *,
    hold_s: float,
    drain_s: float,
    poll_s: float,
    processes: Processes,
    settle_s: float = 5.0,
) -> tuple[list[RateResult], Counter[str]]:
    """Every rate in turn (lowest first), printing a row each; stops after the first rate that left lifecycles
    unfinished or failed (a rate merely slower than the goal does not stop it)."""
    say(HEADER)
    results: list[RateResult] = []
    requests: Counter[str] = Counter()
    for n, rate in enumerate(sorted(rates)):
        if n:
            await asyncio.sleep(settle_s)  # the last rate's trailing events (rating windows, board) settle
        result, sent = await run_rate(
            base_url, rate, hold_s=hold_s, drain_s=drain_s, poll_s=poll_s, processes=processes
        )
        results.append(result)
        requests += sent
        say(row(result))
        for kind, count in result.failures.most_common():
            say(f"          failed: {count} × {kind}")
        if result.finished < result.started and rate != max(rates):
            # A backlog: every higher rate would only add to it (and to the next rate's figures).
            say(f"  higher rates skipped: {rate:g}/s left lifecycles unfinished or failed")
            break
    return results, requests


def highest_sustained(results: list[RateResult]) -> RateResult | None:
    sustained = [r for r in results if r.sustained]
    return max(sustained, key=lambda r: r.rate) if sustained else None
