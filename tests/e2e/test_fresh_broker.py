"""The hall started on a brand-new broker at once, before its group coordinator answers (issue 12).

Before: routing exited at start-up with ``GroupCoordinatorNotAvailableError`` (the broker makes its offsets
topic on first use), and the harnesses had to warm the broker up first. Now every process waits for Kafka and its
group coordinator with bounded backoff (``shared/startup.py``, up to 60 s) and all five come up by themselves.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from deploy.processes import SERVICES, Launcher
from deploy.sandbox import Sandbox, free_port
from shared.clock import OFFSET_VARIABLE, SYSTEM_CLOCK
from shared.settings import load_settings
from shared.topics import ensure_topics

pytestmark = pytest.mark.e2e


async def test_every_process_waits_for_a_brand_new_brokers_group_coordinator(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "sandbox")
    box.start()
    try:
        hall = load_settings(
            kafka_bootstrap_servers=box.kafka_bootstrap_servers,
            redis_url=box.redis_url,
            namespace=f"f{uuid.uuid4().hex[:6]}",
        )
        await ensure_topics(hall)  # topics only: nobody has asked for a group yet
        env = {**box.env(), "HALL_NAMESPACE": hall.namespace, OFFSET_VARIABLE: str(SYSTEM_CLOCK.offset.total_seconds())}
        launcher = Launcher(tmp_path / "hall", env, {name: free_port() for name in SERVICES})
        for name in SERVICES:
            launcher.start(name)
        try:
            unhealthy = launcher.wait_healthy(list(SERVICES), timeout_s=150)
            exited = [name for name in SERVICES if launcher.pid(name) is None]
            assert not exited, f"exited at start-up: {exited}; see {tmp_path / 'hall' / 'logs'}"
            assert not unhealthy, f"not healthy: {unhealthy}; see {tmp_path / 'hall' / 'logs'}"
        finally:
            for name in SERVICES:
                launcher.stop(name)
    finally:
        box.stop()
