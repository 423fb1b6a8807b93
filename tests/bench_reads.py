"""``./hall bench reads [--cases 100000] [--seconds 20] [--rate 200] [--quick]``: the gateway's read side under load.

In a private Kafka and Redis (deploy/sandbox.py), the whole hall runs one journey of each kind (as
``./hall bench rebuild`` does, tests/bench_rebuild.py); the records it left on the gateway's input topics are the
template, cloned (new case numbers, ids and rating links) until the topics hold 1,000 cases, then ``--cases``. At
each size the consumer groups are moved to the end, the gateway's Redis is wiped and rebuilt from the topics as
``./hall rebuild gateway`` does (Redis ``used_memory`` is read before and after: memory per case), and one real
gateway process (deploy/processes.py) is started on it. Requests then leave at a fixed rate (open loop: each at
its scheduled time whether or not earlier ones were answered, the routes in turn, each with its role's bearer
token) for ``--seconds``: the department inbox, the staff's own steps, the clerk's 我的办件, the SLA board, a
random case's page and the follow-up list, lists with ``limit=50``. Latency is from the scheduled send to the
answer. Before the load, each route is asked 50 times one at a time and the gateway's CPU time per request is
read from /proc (what a route costs, whatever else the machine runs). It prints p50/p99/max and CPU ms per route at
each size, the requests per second achieved and every non-2xx answer.

``--quick`` (300 and 600 cases, 3 s each, CPU from 10 requests a route) is what the suite runs
(tests/integration/test_bench_reads_quick.py).
The per-caller request limit is lifted for the bench's gateway (HALL_API_RATE_PER_MINUTE): its Redis count still
runs on every request, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import msgspec
from redis.asyncio import Redis

from deploy.processes import Launcher
from deploy.rebuild import rebuild
from deploy.sandbox import Sandbox
from shared.rebuild import wipe
from shared.settings import HallSettings, load_settings
from shared.topics import ensure_topics
from tests.bench_intake import percentile
from tests.bench_rebuild import INPUTS, caught_up, cloner, produce, say, template
from tests.halls import free_port
from tests.journeys import auth

DEPARTMENT = "自然资源局"  # the template's 查封登记 journeys leave their open steps here
PAGE = "limit=50"
TIMEOUT_S = 10.0  # a request not answered this long after its scheduled time is an error
IN_FLIGHT = 64
COST_REQUESTS = 50  # per route, one at a time, for its CPU per request
WARM_S = 120.0  # the first request of each route, before the load (a slow one is said so, not fatal)
QUICK_SIZES, QUICK_SECONDS = [300, 600], 3.0  # --quick, and the suite's test of it
QUICK_COST_REQUESTS = 10


class Route(msgspec.Struct):
    """One read the bench drives: a name for the table, the user asking, and its path (``{case_no}``: a case)."""

    name: str
    user: str
    path: str


ROUTES = (
    Route("部门待办", "zrzy-li", f"/api/departments/{DEPARTMENT}/steps?{PAGE}"),
    Route("我的待办（审批人员）", "zrzy-li", f"/api/departments/{DEPARTMENT}/steps?mine=true&{PAGE}"),
    Route("我的办件（窗口）", "clerk-zhang", f"/desk/cases?{PAGE}"),
    Route("时限监控看板", "op-qian", f"/api/sla/board?{PAGE}"),
    Route("办件页", "clerk-zhang", "/api/cases/{case_no}"),
    Route("差评整改台账", "zrzy-li", f"/api/ratings/followups?{PAGE}"),
)


class RouteFigures(msgspec.Struct):
    name: str
    path: str
    answered: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]  # status (or exception name) → count, for every answer that was not 2xx
    cpu_ms: float = math.nan  # the gateway's CPU per request, asked one at a time (whatever else runs)


class SizeFigures(msgspec.Struct):
    cases: int
    records: int
    rebuild: str
    rebuild_s: float
    memory_per_case: float  # bytes of Redis used_memory the gateway's keys take per case
    rate: float  # requests answered per second
    routes: list[RouteFigures]
    gateway_cpu: float = 0.0  # cores the gateway process used during the load (1.0: one whole core)
    load: float = 0.0  # the machine's one-minute load average after it (others' work included)


def process_tree(pid: int | None) -> list[int]:
    """``pid`` and its descendants (the gateway runs under deploy/supervise.py)."""
    found, todo = [], [pid] if pid is not None else []
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in children.read_text().split()]
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used so far (those gone count 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return total / os.sysconf("SC_CLK_TCK")


def case_numbers(numbers: list[str], region: str, copies: int) -> list[str]:
    """Every case number on the topics: the template's and those of its clones 1 … ``copies - 1``
    (tests/bench_rebuild.py ``clone`` adds ``n * width`` to the sequence of clone ``n``)."""
    pattern, width = cloner(numbers, region)

    def renumbered(n: int) -> Callable[[re.Match[str]], str]:
        return lambda m: m.group(0)[:-6] + f"{int(m.group(1)) + n * width:06d}"

    text = re.compile(pattern.pattern.decode())
    return [text.sub(renumbered(n), number) for n in range(copies) for number in numbers]


async def used_memory(settings: HallSettings) -> int:
    redis = Redis.from_url(settings.redis_url)
    try:
        memory: int = (await redis.info("memory"))["used_memory"]
        return memory
    finally:
        await redis.aclose()


async def rebuilt(settings: HallSettings) -> tuple[str, float, int]:
    """The gateway's keys wiped and rebuilt from the topics; its summary, the time and the bytes its keys take."""
    redis = Redis.from_url(settings.redis_url)
    try:
        await wipe(redis, settings.namespace, "gateway")
        before = (await redis.info("memory"))["used_memory"]
    finally:
        await redis.aclose()
    started = time.monotonic()
    summary = await rebuild(settings, "gateway")
    taken = time.monotonic() - started
    return summary, taken, await used_memory(settings) - before


async def warm(client: httpx.AsyncClient, routes: list[Route], headers: dict[str, dict[str, str]], case: str) -> None:
    """Each route asked once (first answers pay for imports and caches); one that fails is said so, and driven
    anyway (its answers count as errors in the table)."""
    for route in routes:
        begun = time.monotonic()
        try:
            answer = await client.get(route.path.format(case_no=case), headers=headers[route.user], timeout=WARM_S)
        except httpx.HTTPError as error:
            say(f"  {route.name}: GET {route.path} → {type(error).__name__} after {time.monotonic() - begun:.1f} s")
            continue
        if not answer.is_success:
            say(f"  {route.name}: GET {route.path} → {answer.status_code} {answer.text[:200]} at warm-up")
        elif time.monotonic() - begun > 1:
            say(f"  {route.name}: the first request took {time.monotonic() - begun:.1f} s")


async def cost(
    base_url: str, routes: list[Route], cases: list[str], pids: list[int], times: int = COST_REQUESTS
) -> dict[str, float]:
    """The gateway's CPU milliseconds per request of each route, asked ``times`` times one at a time: what a route
    costs whatever else the machine runs (latency under load is that cost plus queueing)."""
    headers = {r.user: auth(r.user) for r in routes}
    pick = random.Random(16)
    found: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=WARM_S) as client:
        await warm(client, routes, headers, cases[0])
        for route in routes:
            before = cpu_seconds(pids)
            for _ in range(times):
                await client.get(route.path.format(case_no=pick.choice(cases)), headers=headers[route.user])
            found[route.name] = (cpu_seconds(pids) - before) * 1000 / times
    return found


async def drive(
    base_url: str, routes: list[Route], cases: list[str], rate: float, seconds: float, *, timeout_s: float = TIMEOUT_S
) -> tuple[float, list[RouteFigures]]:
    """Requests at ``rate`` per second for ``seconds`` (open loop, the routes in turn); figures per route.

    A request not answered within ``timeout_s`` of its scheduled time counts as an error ("timeout"): an overloaded
    gateway's backlog would otherwise hold the bench for as long as it takes to work through it."""
    headers = {r.user: auth(r.user) for r in routes}  # after the rebuild: older sessions are refused
    latencies: dict[str, list[float]] = {r.name: [] for r in routes}
    errors: dict[str, Counter[str]] = {r.name: Counter() for r in routes}
    pick = random.Random(15)
    # At most IN_FLIGHT requests at once: httpx's pool rescans its queue at every request it ends, and thousands
    # queued in it (an overloaded gateway at 200/s) took the bench's own CPU instead of the gateway's. A request
    # waiting for a slot is still timed from its scheduled time, so the wait counts in its latency.
    slots = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits)
    last = time.monotonic()
    try:
        await warm(client, routes, headers, cases[0])
        for route in routes:
            say(f"  {route.name}: GET {route.path}")

        async def one(route: Route, path: str, due: float) -> None:
            nonlocal last
            try:
                async with asyncio.timeout_at(due + timeout_s), slots:
                    answer = await client.get(path, headers=headers[route.user])
            except TimeoutError:
                errors[route.name][f"timeout (>{timeout_s:g} s)"] += 1
                return
            except httpx.HTTPError as error:
                errors[route.name][type(error).__name__] += 1
                return
            last = time.monotonic()
            latencies[route.name].append((last - due) * 1000)
            if not answer.is_success:
                errors[route.name][str(answer.status_code)] += 1

        total = int(rate * seconds)
        tasks: dict[asyncio.Task[None], str] = {}
        start = time.monotonic() + 0.1
        for i in range(total):
            due = start + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            route = routes[i % len(routes)]
            task = asyncio.create_task(one(route, route.path.format(case_no=pick.choice(cases)), due))
            tasks[task] = route.name
        _, pending = await asyncio.wait(tasks, timeout=timeout_s + 5)
        for task in pending:  # still waiting past their own timeout (a wedged client pool): not answered
            task.cancel()
            errors[tasks[task]]["no answer"] += 1
        elapsed = max(last - start, 1e-9)
    finally:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.aclose(), 10)
    figures = []
    for route in routes:
        ms = latencies[route.name] or [math.nan]
        figures.append(
            RouteFigures(
                route.name,
                route.path,
                len(latencies[route.name]),
                percentile(ms, 50),
                percentile(ms, 99),
                max(ms),
                dict(errors[route.name]),
            )
        )
    return sum(len(v) for v in latencies.values()) / elapsed, figures


def table(sizes: list[SizeFigures]) -> None:
    say("")
    heads = [f"{s.cases:,} cases p50 / p99 / max ms" for s in sizes] + [f"CPU ms ({s.cases:,})" for s in sizes]
    say("| route | " + " | ".join(heads) + " | non-2xx |")
    say("|---|" + "---|" * (2 * len(sizes)) + "---|")
    names = list(dict.fromkeys(r.name for s in sizes for r in s.routes))
    for name in names:
        found = [next((r for r in s.routes if r.name == name), None) for s in sizes]
        cells = [f"{r.p50_ms:.1f} / {r.p99_ms:.1f} / {r.max_ms:.0f}" if r else "—" for r in found]
        cells += [f"{r.cpu_ms:.1f}" if r else "—" for r in found]
        wrong = Counter[str]()
        for r in found:
            wrong.update(r.errors if r else {})
        shown = ", ".join(f"{status}×{n}" for status, n in sorted(wrong.items())) or "0"
        path = next(r.path for r in found if r)
        say(f"| {name} (`{path}`) | " + " | ".join(cells) + f" | {shown} |")
    for s in sizes:
        say(
            f"{s.cases:,} cases ({s.records:,} records on the gateway's topics): {s.rate:.0f} requests/s answered; "
            f"gateway rebuilt in {s.rebuild_s:.1f} s; Redis {s.memory_per_case:,.0f} bytes per case "
            f"({s.memory_per_case * s.cases / 1e6:,.0f} MB for the gateway's keys); the gateway used "
            f"{s.gateway_cpu:.0%} of a core under load, machine load average {s.load:.1f} on {os.cpu_count()} cores"
        )


async def run(
    sizes: list[int],
    seconds: float,
    rate: float,
    home: Path,
    *,
    timeout_s: float = TIMEOUT_S,
    cost_requests: int = COST_REQUESTS,
) -> list[SizeFigures]:
    sandbox = Sandbox(home)
    say(f"sandbox: Kafka {sandbox.kafka_bootstrap_servers}, Redis {sandbox.redis_url}, home {home}")
    launcher: Launcher | None = None
    try:
        sandbox.start()
        settings = msgspec.structs.replace(
            load_settings(),
            kafka_bootstrap_servers=sandbox.kafka_bootstrap_servers,
            redis_url=sandbox.redis_url,
            namespace="bench",
        )
        await ensure_topics(settings)
        say("template: one journey of each kind through the whole hall …")
        records, numbers = await template(settings)
        # Only the gateway's inputs are cloned: the gateway is the one rebuilt and driven.
        records = [r for r in records if r.topic in INPUTS["gateway"]]
        say(f"template: {len(records)} records on the gateway's topics, {len(numbers)} cases")
        env = {
            **sandbox.env(),
            "HALL_NAMESPACE": settings.namespace,
            "HALL_API_RATE_PER_MINUTE": str(10**9),
            "HALL_DEMO": "1",
        }
        launcher = Launcher(home / "gateway", env, {"gateway": free_port()})
        results: list[SizeFigures] = []
        copies = 1
        for size in sizes:
            wanted = max(1, math.ceil(size / len(numbers)))
            launcher.stop("gateway")  # before the groups move: a running consumer would own them
            if wanted > copies:
                started = time.monotonic()
                await produce(settings, records, numbers, wanted * len(records), first=copies)
                say(f"loaded: {wanted * len(numbers):,} cases in all ({time.monotonic() - started:.0f} s)")
                copies = wanted
            await caught_up(settings)
            summary, taken, memory = await rebuilt(settings)
            say(f"  {summary}")
            launcher.start("gateway")
            if launcher.wait_healthy(["gateway"], timeout_s=90):
                raise RuntimeError(f"the gateway did not become healthy: see {launcher.log_file('gateway')}")
            cases = case_numbers(numbers, settings.region_code, copies)
            say(f"driving {rate:g} requests/s for {seconds:g} s at {len(cases):,} cases …")
            base_url = f"http://127.0.0.1:{launcher.ports['gateway']}"
            pids = process_tree(launcher.pid("gateway"))
            costs = await cost(base_url, list(ROUTES), cases, pids, cost_requests)
            say("  CPU per request: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in costs.items()))
            begun = time.monotonic()
            cpu = cpu_seconds(pids)
            achieved, figures = await drive(base_url, list(ROUTES), cases, rate, seconds, timeout_s=timeout_s)
            figures = [msgspec.structs.replace(f, cpu_ms=costs[f.name]) for f in figures]
            used = (cpu_seconds(pids) - cpu) / (time.monotonic() - begun)
            per_case = memory / len(cases)
            size_figures = SizeFigures(len(cases), copies * len(records), summary, taken, per_case, achieved, figures)
            results.append(msgspec.structs.replace(size_figures, gateway_cpu=used, load=os.getloadavg()[0]))
            for f in figures:
                shown = ", ".join(f"{k}×{v}" for k, v in sorted(f.errors.items())) or "none"
                say(f"  {f.name}: {f.answered} answered, p50 {f.p50_ms:.1f} ms, p99 {f.p99_ms:.1f} ms; non-2xx {shown}")
        table(results)
        return results
    finally:
        if launcher is not None:
            launcher.stop("gateway")
        sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hall bench reads")
    parser.add_argument("--cases", type=int, default=100_000, help="the second size (default 100,000; the first 1,000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of load per size (default 20)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--quick", action="store_true", help="300 and 600 cases, 3 s each (the suite's form)")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox's home for a post-mortem")
    args = parser.parse_args(argv)
    sizes, seconds = (QUICK_SIZES, QUICK_SECONDS) if args.quick else ([1_000, args.cases], args.seconds)
    home = Path(tempfile.mkdtemp(prefix="hall-bench-reads-"))
    try:
        times = QUICK_COST_REQUESTS if args.quick else COST_REQUESTS
        figures = asyncio.run(run(sizes, seconds, args.rate, home, cost_requests=times))
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    return 0 if all(not r.errors and r.answered for s in figures for r in s.routes) else 1


if __name__ == "__main__":
    sys.exit(main())
