"""``./hall`` subcommands that run in the project's Python: topics, up, down, status, logs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from deploy.logs import print_case
from deploy.processes import DEMO, ROOT, SERVICES, Launcher, instance
from deploy.rebuild import rebuild as rebuild_from_kafka
from services.counterpart.app import enabled as counterpart_enabled
from services.gateway.users import DemoUsersError, Directory
from shared.metrics import metrics_address
from shared.secrets import WeakSecretError, require_secret
from shared.settings import load_settings
from shared.telemetry import trace_settings
from shared.topics import ensure_topics

ORDER = ["intake", "routing", "timing", "evaluation", "gateway"]


def order() -> list[str]:
    """The processes ``./hall up`` runs: the services, and the demo counterpart of 跨省通办 unless switched off."""
    return [*ORDER, *DEMO] if counterpart_enabled() else list(ORDER)


def topics() -> int:
    created = asyncio.run(ensure_topics(load_settings()))
    print(f"topics: created {len(created)}" + (f" ({', '.join(created)})" if created else ", all present"))
    return 0


MAX_INSTANCES = 8


def instances(values: list[str]) -> dict[str, int]:
    """``--instances 2`` (every service) or ``--instances routing=2,timing=3`` (repeatable): processes per service.

    Raises ``argparse.ArgumentTypeError`` with the reason for a bad value.
    """
    counts = dict.fromkeys(ORDER, 1)
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            name, sep, number = part.rpartition("=")
            if sep and name not in ORDER:
                raise argparse.ArgumentTypeError(f"--instances: unknown service {name!r}; one of {', '.join(ORDER)}")
            if not number.isdigit() or not 1 <= int(number) <= MAX_INSTANCES:
                raise argparse.ArgumentTypeError(f"--instances: {part!r}: a count from 1 to {MAX_INSTANCES}")
            for service in [name] if sep else ORDER:
                counts[service] = int(number)
    return counts


TRACE_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_ZIPKIN_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def traces(environ: dict[str, str], *, wanted: bool) -> tuple[dict[str, str], str]:
    """What ``./hall up`` adds to the services' environment for traces, and the Zipkin port to start ("" for none).

    Unless ``--no-traces``: the local Zipkin (``deploy/zipkin.sh``, port ``ZIPKIN_PORT``, 9411) when the user set
    none of the OpenTelemetry exporter variables, or when theirs name that same Zipkin; their own otherwise.
    """
    port = environ.get("ZIPKIN_PORT", "").strip() or "9411"
    if not wanted:
        return {}, ""
    if not any(environ.get(name, "").strip() for name in TRACE_VARIABLES):
        local = {
            "OTEL_TRACES_EXPORTER": "zipkin",
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT": f"http://127.0.0.1:{port}/api/v2/spans",
        }
        return local, port
    theirs = trace_settings(load_settings(environ), environ)
    local_host = urlsplit(theirs.endpoint).netloc in (f"127.0.0.1:{port}", f"localhost:{port}")
    return {}, port if theirs.exporter == "zipkin" and local_host else ""


def start_zipkin(home: Path, port: str) -> bool:
    """``deploy/zipkin.sh start`` (fetches the jar the first time); its lines are printed as it goes."""
    env = {**os.environ, "HALL_HOME": str(home), "ZIPKIN_PORT": port}
    return subprocess.run([str(ROOT / "deploy" / "zipkin.sh"), "start"], env=env, check=False).returncode == 0


def up(home: Path, counts: dict[str, int] | None = None, *, with_traces: bool = True) -> int:
    settings = load_settings()
    try:
        require_secret(settings)
        Directory.for_gateway(settings).check_mode()
    except (WeakSecretError, DemoUsersError) as refused:
        print(f"hall: {refused}", file=sys.stderr)
        return 2
    if settings.demo:
        print("演示模式 (demo mode, HALL_DEMO=1): 演示用户口令 hall2026，不得用于生产；生产请设 HALL_DEMO=0\n")
    try:
        trace_env, zipkin_port = traces(dict(os.environ), wanted=with_traces)
    except ValueError as refused:
        print(f"hall: {refused}", file=sys.stderr)
        return 2
    if zipkin_port and not start_zipkin(home, zipkin_port):
        print("hall: Zipkin did not start (see above); ./hall up --no-traces runs the hall without it", file=sys.stderr)
        return 1
    launcher = Launcher(home, trace_env)
    names = [instance(s, n) for s in order() for n in range(1, (counts or {}).get(s, 1) + 1)]
    for name in names:
        already = launcher.pid(name)
        pid = launcher.start(name)
        print(f"{name:<13} {'already running' if already else 'started'}  pid {pid}  port {launcher.port(name)}")
    failed = launcher.wait_healthy(names, timeout_s=90)
    if failed:
        for name in failed:
            print(f"{name} is not healthy; last lines of {launcher.log_file(name)}:", file=sys.stderr)
            print("".join(launcher.log_file(name).read_text(errors="replace").splitlines(True)[-20:]), file=sys.stderr)
        return 1
    port = SERVICES["gateway"]
    print("\n服务大厅已启动 (the hall is up):")
    signin = "(demo users in data/users.toml, password hall2026)" if settings.demo else "(./hall users to manage)"
    print(f"  sign in       http://127.0.0.1:{port}/login   {signin}")
    print(f"  clerks' desk  http://127.0.0.1:{port}/desk    kiosk http://127.0.0.1:{port}/kiosk")
    print(f"  workbench     http://127.0.0.1:{port}/workbench    SLA board http://127.0.0.1:{port}/sla")
    print(f"  public        http://127.0.0.1:{port}/public/ratings")
    print(f"  gateway API   http://127.0.0.1:{port}/api/cases")
    print(f"  OpenAPI docs  http://127.0.0.1:{port}/schema")
    print(f"  health        http://127.0.0.1:{port}/health")
    _, metrics_port = metrics_address(msgspec.structs.replace(settings, http_port=port))
    if metrics_port:  # README "Metrics": the gateway's on a loopback port of its own, each service's on its own port
        services = ", ".join(str(SERVICES[name]) for name in SERVICES if name != "gateway")
        print(f"  metrics       http://127.0.0.1:{metrics_port}/metrics   (services: ports {services}, /metrics)")
    print(f"  logs          {home / 'logs'}   (./hall logs [service], ./hall logs --case NO)")
    print(f"  operations    http://127.0.0.1:{port}/ops   (运行监控: instances, dead letters)")
    shown = trace_settings(settings, {**os.environ, **trace_env})
    if zipkin_port:
        print(f"  traces        http://127.0.0.1:{zipkin_port}/zipkin/   (Zipkin; ./hall up --no-traces skips it)")
    elif shown.exporter != "none":
        print(f"  traces        {shown.ui or shown.endpoint}   (OTEL_TRACES_EXPORTER={shown.exporter})")
    if counterpart_enabled():
        print(f"  跨省通办       http://127.0.0.1:{port}/ops/external   (demo counterpart; HALL_COUNTERPART=off)")
    return 0


def down(home: Path) -> int:
    launcher = Launcher(home)
    for service in reversed([*ORDER, *DEMO]):
        for name in reversed(launcher.running_instances(service)) or [service]:
            print(f"{name:<13} {'stopped' if launcher.stop(name) else 'not running'}")
    return 0


def status(home: Path) -> int:
    launcher = Launcher(home)
    for service in [*ORDER, *DEMO]:
        running = launcher.running_instances(service)
        if not running:
            off = " (demo counterpart, HALL_COUNTERPART=off)" if service in DEMO and not counterpart_enabled() else ""
            print(f"{service:<13} stopped{off}")
        for name in running:
            pid = launcher.pid(name)
            print(f"{name:<13} running  pid {pid}  127.0.0.1:{launcher.port(name)}  {_health_line(launcher, name)}")
    return 0


def _health_line(launcher: Launcher, name: str) -> str:
    """``healthy``, or ``unhealthy:`` and every reason the service gives (its /health answers 503 with them)."""
    url = f"http://127.0.0.1:{launcher.port(name)}/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as refused:
        try:
            body = json.loads(refused.read() or b"{}")
        except ValueError:
            return f"unhealthy: HTTP {refused.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"unhealthy: /health does not answer ({exc})"
    problems = body.get("problems") or []
    if body.get("ready", True) and not problems:
        return "healthy"
    return "unhealthy: " + "; ".join(str(p) for p in problems) if problems else f"unhealthy {body}"


def logs(home: Path, service: str | None, lines: int, *, case: str | None = None, as_json: bool = False) -> int:
    if case:  # one case's lines from every service's log, in time order (deploy/logs.py)
        return print_case(home / "logs", case, as_json=as_json)
    names = [service] if service else [*ORDER, *DEMO]
    for name in names:
        path = Launcher(home).log_file(name)
        print(f"==> {path} <==")
        if path.exists():
            subprocess.run(["tail", "-n", str(lines), str(path)], check=False)
    return 0


def rebuild(home: Path, service: str) -> int:
    """Wipe one service's keys in the namespace and rebuild them from Kafka; the service must be stopped."""
    pid = Launcher(home).pid(service)
    if pid is not None:
        print(f"hall: {service} is running (pid {pid}): stop it first (./hall down), then rebuild", file=sys.stderr)
        return 2
    print(asyncio.run(rebuild_from_kafka(load_settings(), service)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hall")
    parser.add_argument("--home", type=Path, default=ROOT / ".hall")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("topics", "down", "status"):
        sub.add_parser(name)
    up_parser = sub.add_parser("up")
    up_parser.add_argument(
        "--instances",
        action="append",
        default=[],
        metavar="N|SERVICE=N[,…]",
        help="processes per service, in one consumer group (e.g. 2, or routing=2,timing=2); default 1",
    )
    up_parser.add_argument("--no-traces", action="store_true", help="no Zipkin; spans go where OTEL_* say, if anywhere")
    log_parser = sub.add_parser("logs")
    log_parser.add_argument("service", nargs="?", choices=ORDER)
    log_parser.add_argument("-n", "--lines", type=int, default=50)
    log_parser.add_argument("--case", metavar="NO", help="one case's lines from every service's log, in time order")
    log_parser.add_argument("--json", action="store_true", help="with --case: the JSON lines as written")
    sub.add_parser("rebuild").add_argument("service", choices=ORDER)
    args = parser.parse_args(argv)
    if args.command == "rebuild":
        return rebuild(args.home, args.service)
    if args.command == "topics":
        return topics()
    if args.command == "up":
        try:
            counts = instances(args.instances)
        except argparse.ArgumentTypeError as refused:
            parser.error(str(refused))
        return up(args.home, counts, with_traces=not args.no_traces)
    if args.command == "down":
        return down(args.home)
    if args.command == "status":
        return status(args.home)
    return logs(args.home, args.service, args.lines, case=args.case, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
