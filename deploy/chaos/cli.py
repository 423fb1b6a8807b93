"""``./hall chaos [--quick] [--cases N] [--rate R] [--report FILE]``: the fault suite with accounting.

Starts a private Kafka and Redis (``deploy/sandbox.py``, free ports, a home of its own: never the shared ones),
creates the topics in a namespace of its own, starts the hall's five processes against them with a fresh
install secret in demo mode, and then:

1. warm-up: the client submits at the fixed rate with no fault;
2. the faults, one after another, each followed by a settle period (``faults.plan``);
3. a last period with no fault, then the client stops and waits for what is under way;
4. the accounting (``accounting``): the table, one row per fault and the totals.

Exits 1 on any lost, duplicated or stuck case, or any fault not recovered within two minutes of its end without
manual action; 0 otherwise. The sandbox's home (logs of every process, Kafka and Redis) is kept on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from deploy.chaos.faults import KEYS
from deploy.sandbox import Sandbox, free_port
from deploy.secret import ensure_secret
from shared.startup import wait_for_kafka

QUICK_CASES, FULL_CASES = 1000, 10_000


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="hall chaos", description="故障注入与逐笔核对 (the fault suite with accounting)"
    )
    parser.add_argument("--quick", action="store_true", help="about 1,000 cases, Kafka stopped 30 s (a few minutes)")
    parser.add_argument("--cases", type=int, help=f"about how many cases (default {FULL_CASES}, quick {QUICK_CASES})")
    parser.add_argument("--rate", type=float, help="submissions per second, open loop (default 10, quick 3)")
    parser.add_argument("--kafka-stop", type=float, help="seconds Kafka stays stopped (default 90, quick 30)")
    parser.add_argument(
        "--faults",
        default=",".join(KEYS),
        help=f"which faults, in this order (default all: {','.join(KEYS)})",
    )
    parser.add_argument(
        "--drive-every",
        type=int,
        help="drive every Nth case through its lifecycle (default: about one lifecycle each 2 s: 20, quick 5)",
    )
    parser.add_argument("--report", type=Path, help="also write the table as Markdown to this file")
    parser.add_argument("--json", type=Path, help="also write the accounting (rows and totals) as JSON to this file")
    parser.add_argument("--home", type=Path, help="the sandbox's home (default: a new temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox's home even when the run passes")
    args = parser.parse_args(argv)
    if args.cases is not None and args.cases < 1:
        parser.error("--cases must be at least 1")
    args.faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in args.faults if f not in KEYS]
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(KEYS)}")
    if args.rate is not None and not 0 < args.rate <= 100:
        parser.error("--rate must be more than 0 and at most 100")
    return args


class Plan:
    """Durations of the run, chosen so that about ``cases`` submissions are made at ``rate``."""

    def __init__(self, args: argparse.Namespace) -> None:
        quick = bool(args.quick)
        self.cases = args.cases or (QUICK_CASES if quick else FULL_CASES)
        self.rate = args.rate or (3.0 if quick else 10.0)
        self.kafka_stop_s = args.kafka_stop or (30.0 if quick else 90.0)
        self.restart_after_s = 10.0
        self.warm_up_s = 10.0 if quick else 30.0
        self.final_s = 15.0 if quick else 60.0
        self.patience_s = 240.0 if quick else 360.0
        faults = max(1, len(args.faults))
        # A fault lasts from its injection to its recovery: the time down and about 5 s more to be ready (measured:
        # 11-15 s for a 10 s restart), and about 15 s more for the broker's own start (kill -9 of it, Kafka stopped).
        expected_fault_s = self.restart_after_s + 5.0
        busy = faults * expected_fault_s + self.kafka_stop_s - self.restart_after_s + 15.0
        spare = self.cases / self.rate - self.warm_up_s - self.final_s - busy
        self.settle_s = max(5.0 if quick else 20.0, spare / faults)
        # Lifecycles started per second stay below what the 2-core machine finishes under faults (about 1/s):
        # faster, the client's backlog of lifecycles only grows (and its polling loads the gateway it measures).
        self.drive_every = args.drive_every or max(1, round(self.rate * 2))


STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", flush=True)  # noqa: T201


async def run(args: argparse.Namespace) -> int:  # noqa: PLR0915 (one run, start to end, in order)
    # Imported here: the client's module reads settings (tests/journeys.py) once HALL_SECRET is this run's.
    from deploy.chaos import accounting, faults  # noqa: PLC0415
    from deploy.chaos.driver import Client  # noqa: PLC0415
    from deploy.processes import SERVICES, Launcher  # noqa: PLC0415
    from shared.clock import OFFSET_VARIABLE, SYSTEM_CLOCK  # noqa: PLC0415
    from shared.settings import load_settings  # noqa: PLC0415
    from shared.topics import ensure_topics  # noqa: PLC0415

    plan = Plan(args)
    home: Path = args.home or Path(tempfile.mkdtemp(prefix="hall-chaos-"))
    await asyncio.to_thread(home.mkdir, mode=0o700, parents=True, exist_ok=True)
    log(f"hall chaos: about {plan.cases} cases at {plan.rate:g}/s; home {home}")
    sandbox = Sandbox(home / "infra")
    launcher: Launcher | None = None
    ok = False
    try:
        await asyncio.to_thread(sandbox.start)
        namespace = f"chaos{uuid.uuid4().hex[:6]}"
        settings = load_settings(
            kafka_bootstrap_servers=sandbox.kafka_bootstrap_servers, redis_url=sandbox.redis_url, namespace=namespace
        )
        await ensure_topics(settings)
        # A brand-new broker answers GroupCoordinatorNotAvailableError until its offsets topic exists: bring-up,
        # not one of the faults, so the run waits for it (as every process does at start) instead of counting it.
        await wait_for_kafka(settings, "chaos-warm-up", 120.0)
        env = {
            **sandbox.env(),
            "HALL_NAMESPACE": namespace,
            "HALL_SECRET": os.environ["HALL_SECRET"],
            "HALL_DEMO": "1",
            OFFSET_VARIABLE: str(SYSTEM_CLOCK.offset.total_seconds()),
        }
        launcher = Launcher(home / "hall", env, {name: free_port() for name in SERVICES})
        for name in SERVICES:
            launcher.start(name)
        unhealthy = await asyncio.to_thread(launcher.wait_healthy, list(SERVICES), 120.0)
        if unhealthy:
            log(f"not healthy at the start: {unhealthy}; logs in {home / 'hall' / 'logs'}")
            return 2
        log(f"hall up in namespace {namespace}: gateway on port {launcher.ports['gateway']}")
        client = Client(
            f"http://127.0.0.1:{launcher.ports['gateway']}",
            namespace,
            patience_s=plan.patience_s,
            drive_every=plan.drive_every,
        )
        try:
            await client.sign_in()
            started = time.monotonic()
            submitting = asyncio.create_task(client.run(plan.rate))
            await asyncio.sleep(plan.warm_up_s)
            results = []
            planned = {
                f.key: f
                for f in faults.plan(
                    launcher, sandbox, kafka_stop_s=plan.kafka_stop_s, restart_after_s=plan.restart_after_s
                )
            }
            checkpoints: dict[str, dict[str, accounting.Verdict]] = {}
            for fault in (planned[key] for key in args.faults):
                paused_s = 0.0
                if fault.key == "redis-wipe":  # what breaks from here on is the wipe's
                    # New submissions pause while every case is read (lifecycles under way go on): on 2 cores the
                    # reads take minutes under full load, and the run would grow by thousands of cases meanwhile.
                    log("checkpoint: accounting every case before the wipe (new submissions paused)")
                    paused = time.monotonic()
                    client.stop()
                    await submitting
                    checkpoints[fault.name] = await accounting.checkpoint(client, settings)
                    paused_s = time.monotonic() - paused
                    log(f"checkpoint taken in {paused_s:.0f} s; submitting again")
                    submitting = client.resume(plan.rate)
                results.append(await faults.run_fault(fault, client, launcher, started, log))
                await asyncio.sleep(plan.settle_s + paused_s)  # the pause made up for: about ``cases`` in all
            client.phase = "after the faults"
            await asyncio.sleep(plan.final_s)
            client.stop()
            await submitting
            log(f"{len(client.submissions)} submitted; waiting for the submissions and lifecycles under way")
            await client.drain()
            log("accounting")
            acc = await accounting.account(client, settings, results, settle_s=120.0, log=log, checkpoints=checkpoints)
        finally:
            await client.close()
        text = accounting.table(acc)
        print(text, flush=True)  # noqa: T201
        if args.report:
            args.report.write_text(
                f"Chaos run: about {plan.cases} cases at {plan.rate:g}/s, Kafka stopped {plan.kafka_stop_s:g} s, "
                f"every {plan.drive_every}th case driven to 已评价 (at most {client.drive_concurrency} at once).\n\n"
                f"{accounting.table(acc, markdown=True)}\n"
            )
        if args.json:
            summary = {"rows": acc.rows, "totals": acc.totals, "examples": acc.examples, "failed": acc.failed}
            args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
        ok = not acc.failed
        log("PASSED: nothing lost, duplicated or stuck; every fault recovered" if ok else "FAILED (see the table)")
        return 0 if ok else 1
    finally:
        if launcher is not None:
            for name in SERVICES:
                launcher.stop(name, wait_s=15.0)
        await asyncio.to_thread(sandbox.stop)
        if ok and not args.keep and args.home is None:
            shutil.rmtree(home, ignore_errors=True)
        else:
            log(f"kept {home} (logs in {home / 'hall' / 'logs'})")


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    # Retries while the broker is down are what the run is about; aiokafka would log each of them.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    # A fresh install secret for this run, and demo mode: the demo users sign in with their published password.
    secret_home = Path(tempfile.mkdtemp(prefix="hall-chaos-secret-"))
    os.environ["HALL_SECRET"] = ensure_secret(secret_home)
    shutil.rmtree(secret_home, ignore_errors=True)
    os.environ["HALL_DEMO"] = "1"
    return asyncio.run(run(args))
