"""A private Kafka and Redis on ports of their own, under a home of their own, for fault runs.

Fault runs stop, kill and wipe the broker and Redis; they do it to a sandbox, never to the Kafka and Redis
that ``./hall up`` and the rest of the test suite share. The same scripts start both (``deploy/kafka.sh``,
``deploy/redis.sh``), only with ``HALL_HOME``, ``KAFKA_PORT``, ``KAFKA_CONTROLLER_PORT`` and ``REDIS_PORT``
set; the broker's jars come from the same cache.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Sandbox:
    """One broker and one Redis under ``home``; every method waits until its effect is done."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.kafka_port = free_port()
        self.controller_port = free_port()
        self.redis_port = free_port()

    @property
    def kafka_bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self) -> dict[str, str]:
        """What the hall's processes need to use this sandbox."""
        return {"KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers, "REDIS_URL": self.redis_url}

    def _script(self, script: str, action: str) -> None:
        env = {
            **os.environ,
            "HALL_HOME": str(self.home),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "REDIS_PORT": str(self.redis_port),
        }
        done = subprocess.run(
            ["bash", str(ROOT / "deploy" / script), action], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"deploy/{script} {action} failed ({done.returncode}): {done.stderr[-2000:]}")

    def _pid(self, name: str) -> int | None:
        try:
            return int((self.home / "run" / f"{name}.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _kill(self, name: str, port: int) -> None:
        pid = self._pid(name)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _answers(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        (self.home / "run" / f"{name}.pid").unlink(missing_ok=True)

    # Kafka
    def start_kafka(self) -> None:
        self._script("kafka.sh", "start")

    def stop_kafka(self) -> None:
        """A clean stop (SIGTERM; the broker shuts down in order)."""
        self._script("kafka.sh", "stop")

    def kill_kafka(self) -> None:
        """kill -9 of the broker."""
        self._kill("kafka", self.kafka_port)

    # Redis
    def start_redis(self) -> None:
        self._script("redis.sh", "start")

    def stop_redis(self) -> None:
        self._script("redis.sh", "stop")

    def kill_redis(self) -> None:
        """kill -9 of redis-server (what it had not yet appended to its AOF is gone)."""
        self._kill("redis", self.redis_port)

    def wipe_redis(self) -> None:
        """Redis killed and its data directory removed: it comes back empty."""
        self.kill_redis()
        shutil.rmtree(self.home / "redis", ignore_errors=True)

    def start(self) -> None:
        self.start_kafka()
        self.start_redis()

    def stop(self) -> None:
        """Both stopped; the data stays under ``home`` for a post-mortem."""
        for stop in (self.stop_kafka, self.stop_redis):
            with contextlib.suppress(RuntimeError):
                stop()
