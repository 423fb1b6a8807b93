"""Starts, stops and watches the hall's five processes by PID file; used by ``./hall`` and the tests.

Each process runs under ``deploy/supervise.py``, which starts it again when it exits with 75 (its Redis wiped
under it: it rebuilds at start) and only then. The PID file holds the supervisor's PID, the leader of a process
group of its own: a stop signals the supervisor (which passes it on once), a kill -9 the whole group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES: dict[str, int] = {"gateway": 8000, "intake": 8101, "routing": 8102, "timing": 8103, "evaluation": 8104}
# The demo counterpart of 跨省通办 (services/counterpart): ``./hall up`` runs it unless HALL_COUNTERPART=off.
DEMO: dict[str, int] = {"counterpart": 8105}
# The second and later instances of a service (``./hall up --instances routing=2``): ``routing-2`` on port 9102.
INSTANCE_PORT_STEP = 1000


def instance(service: str, n: int) -> str:
    """The process name of a service's ``n``-th instance: the service's own name for the first."""
    return service if n == 1 else f"{service}-{n}"


def service_of(name: str) -> str:
    """``routing`` for ``routing-2``."""
    return name.split("-", 1)[0]


def instance_number(name: str) -> int:
    _, _, n = name.partition("-")
    return int(n) if n.isdigit() else 1


class Launcher:
    """The hall's processes under ``home`` (pid files in ``run/``, logs in ``logs/``)."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, ports: dict[str, int] | None = None):
        self.home = home
        self.env = {**os.environ, **(env or {})}
        self.ports = ports or {**SERVICES, **DEMO}
        for sub in ("run", "logs"):  # 0700: logs and pid files are the hall's own (个人信息保护)
            (home / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            (home / sub).chmod(0o700)

    def pid_file(self, name: str) -> Path:
        return self.home / "run" / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def port(self, name: str) -> int:
        """The HTTP port of a process: its own if given, else its service's plus a step per further instance."""
        if name in self.ports:
            return self.ports[name]
        return self.ports[service_of(name)] + INSTANCE_PORT_STEP * (instance_number(name) - 1)

    def running_instances(self, service: str) -> list[str]:
        """The instances of ``service`` with a PID file that points at a live process, in order."""
        more = sorted((p.stem for p in (self.home / "run").glob(f"{service}-*.pid")), key=instance_number)
        return [name for name in (instance(service, 1), *more) if self.pid(name) is not None]

    def pid(self, name: str) -> int | None:
        """The PID of the running process, or None (a stale PID file is removed)."""
        try:
            pid = int(self.pid_file(name).read_text())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            self.pid_file(name).unlink(missing_ok=True)
            return None
        return pid

    def start(self, name: str) -> int:
        running = self.pid(name)
        if running is not None:
            return running
        # The process logs to its file itself, rotating it (shared/logs.py); its raw output goes there too.
        log_file = {"HALL_LOG_FILE": str(self.log_file(name))}
        env = {**self.env, "HALL_HTTP_PORT": str(self.port(name)), "PYTHONUNBUFFERED": "1", **log_file}
        env["HALL_INSTANCE"] = name  # its name in the instance registry (shared/instances.py): routing-2
        with self.log_file(name).open("ab") as log:
            self.log_file(name).chmod(0o600)
            proc = subprocess.Popen(
                [sys.executable, "-m", "deploy.supervise", f"services.{service_of(name)}"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file(name).write_text(str(proc.pid))
        return proc.pid

    def stop(self, name: str, sig: signal.Signals = signal.SIGTERM, wait_s: float = 20.0) -> bool:
        pid = self.pid(name)
        if pid is None:
            return False
        if sig == signal.SIGKILL:
            _kill_group(pid)  # a crash: the supervisor and the service alike, nothing restarted
        else:
            os.kill(pid, sig)  # the supervisor passes it on to the service and restarts nothing
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        _kill_group(pid)  # whatever is left of the group (a stop that took too long)
        while _alive(pid):
            time.sleep(0.05)
        self.pid_file(name).unlink(missing_ok=True)
        return True

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash would: no shutdown hooks run."""
        self.stop(name, signal.SIGKILL, wait_s=5.0)

    def health(self, name: str) -> dict[str, object] | None:
        url = f"http://127.0.0.1:{self.port(name)}/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body: dict[str, object] = json.loads(response.read() or b"{}")
                return body
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def wait_healthy(self, names: list[str], timeout_s: float = 60.0) -> list[str]:
        """Waits until every named service answers healthy; returns those that did not."""
        deadline = time.monotonic() + timeout_s
        waiting = list(names)
        while waiting and time.monotonic() < deadline:
            waiting = [n for n in waiting if not _healthy(self.health(n))]
            if waiting:
                time.sleep(0.3)
        return waiting


def _healthy(body: dict[str, object] | None) -> bool:
    return body is not None and body.get("kafka") is True and body.get("redis") is True


def _kill_group(pid: int) -> None:
    """SIGKILL to the process group ``pid`` leads (started with a session of its own), if any is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
