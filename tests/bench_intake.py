"""``./hall bench intake``: how long a clerk waits for the case number (or the notice), at fixed arrival rates.

Starts, in a namespace of its own, intake and TWO gateway processes (``python -m services.gateway`` with their own
``HALL_HTTP_PORT``), then sends complete applications at fixed rates (open loop: each one leaves at its scheduled
time whether or not earlier ones were answered, alternating between the gateways) and prints p50 / p99 of the time
from the scheduled send to the answer. Then it stops its processes and removes its topics and keys.

    ./hall bench intake [--rates 50,200] [--seconds 20] [--intakes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import msgspec

from deploy.processes import Launcher
from shared.settings import HallSettings, load_settings
from shared.topics import ensure_topics
from tests.conftest import remove_namespace
from tests.halls import free_port
from tests.journeys import APPLICATION

WARM_UP = 40
GOAL_P99_MS = 100.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Hall:
    """The bench's own processes: intake (one or more) and two gateways, each with its own launcher home."""

    def __init__(self, settings: HallSettings, home: Path, intakes: int) -> None:
        env = {
            "HALL_NAMESPACE": settings.namespace,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "REDIS_URL": settings.redis_url,
            "HALL_REPLY_TIMEOUT_S": "10",
        }
        ports = [free_port() for _ in range(2 + intakes)]
        self.gateways = [Launcher(home / f"gateway{i}", env, {"gateway": ports[i]}) for i in range(2)]
        self.intakes = [Launcher(home / f"intake{i}", env, {"intake": ports[2 + i]}) for i in range(intakes)]
        self.urls = [f"http://127.0.0.1:{ports[i]}" for i in range(2)]

    def start(self) -> None:
        for launcher in self.intakes:
            launcher.start("intake")
        for launcher in self.gateways:
            launcher.start("gateway")
        for launcher, name in [*((g, "gateway") for g in self.gateways), *((i, "intake") for i in self.intakes)]:
            if launcher.wait_healthy([name], timeout_s=90):
                log = launcher.log_file(name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not become healthy:\n{log}")

    def stop(self) -> None:
        for launcher in self.gateways:
            launcher.stop("gateway")
        for launcher in self.intakes:
            launcher.stop("intake")


async def token(url: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post("/api/session", json={"user_id": "clerk-zhang", "password": "hall2026"})
        response.raise_for_status()
        value: str = response.json()["token"]
        return value


class Connections:
    """Keep-alive HTTP/1.1 connections to one gateway: a lean client, so the load generator leaves the CPU to
    the hall (httpx costs about a millisecond of CPU per request, which on a small machine is the bench itself)."""

    def __init__(self, url: str, bearer: str) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.bearer = bearer
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\nauthorization: Bearer {self.bearer}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
        )
        reader, writer = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
        writer.write(head.encode() + body)
        status_line = await reader.readline()
        if not status_line:  # the server closed an idle connection: once more on a new one
            writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(head.encode() + body)
            status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return int(status_line.split()[1])

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def run_rate(gateways: list[Connections], rate: float, seconds: float) -> tuple[list[float], Counter[int]]:
    """Open loop: request i leaves at start + i/rate; its latency counts from then, so queueing shows."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    loop = asyncio.get_running_loop()
    body = msgspec.json.encode(APPLICATION)

    async def one(i: int, scheduled: float) -> None:
        key = {"idempotency-key": uuid.uuid4().hex}  # as the desk and the kiosk send it
        try:
            status = await gateways[i % 2].post("/api/cases", body, key)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            statuses[0] += 1
            return
        statuses[status] += 1
        latencies.append(loop.time() - scheduled)

    tasks = []
    start = loop.time() + 0.05
    for i in range(round(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    return latencies, statuses


async def measure(hall: Hall, rates: list[float], seconds: float, intakes: int, kafka: str) -> None:
    bearer = await token(hall.urls[0])
    gateways = [Connections(url, bearer) for url in hall.urls]
    try:
        await run_rate(gateways, 20, WARM_UP / 20)
        print(f"一窗受理 bench: 2 gateways, {intakes} intake, Kafka {kafka}")  # noqa: T201
        print("rate/s  sent  answered  p50 ms  p90 ms  p99 ms  max ms  statuses")  # noqa: T201
        for rate in rates:
            began = time.perf_counter()
            latencies, statuses = await run_rate(gateways, rate, seconds)
            took = time.perf_counter() - began
            ms = [v * 1000 for v in latencies]
            shown = " ".join(f"{code}×{n}" for code, n in sorted(statuses.items()))
            print(  # noqa: T201
                f"{rate:6g}  {sum(statuses.values()):4d}  {len(ms):8d}  {percentile(ms, 50):6.1f}  "
                f"{percentile(ms, 90):6.1f}  {percentile(ms, 99):6.1f}  {max(ms):6.1f}  {shown}"
                f"   ({took:.1f} s; goal p99 ≤ {GOAL_P99_MS:g} ms)"
            )
    finally:
        for gateway in gateways:
            gateway.close()


async def bench(rates: list[float], seconds: float, intakes: int) -> None:
    settings = load_settings(namespace=f"benchintake{uuid.uuid4().hex[:6]}")
    await ensure_topics(settings)
    home = Path(os.environ.get("HALL_HOME", ".hall")) / "bench-intake"  # its processes' logs stay for a look
    shutil.rmtree(home, ignore_errors=True)
    hall = Hall(settings, home, intakes)
    try:
        hall.start()
        await measure(hall, rates, seconds, intakes, settings.kafka_bootstrap_servers)
    finally:
        hall.stop()
        await remove_namespace(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="50,200", help="arrival rates per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each rate runs")
    parser.add_argument("--intakes", type=int, default=2, help="intake processes (one group)")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    asyncio.run(bench(rates, args.seconds, args.intakes))


if __name__ == "__main__":
    main()
