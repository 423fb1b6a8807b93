"""The hall's five processes, started as ``./hall up`` starts them, in a namespace of their own."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest

from deploy.processes import SERVICES, Launcher, instance
from shared.clock import OFFSET_VARIABLE, SYSTEM_CLOCK
from shared.settings import HallSettings
from shared.topics import ensure_topics


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Services run twice in one consumer group (``./hall up --instances``): the journeys pass through either instance.
TWICE = ("routing", "timing", "evaluation")


# Package scope: the processes stop once the e2e tier is done (the tiers after it do not share the machine with
# eight idle services).
@pytest.fixture(scope="package")
async def processes(settings: HallSettings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Launcher]:
    namespace = f"{settings.namespace}p"
    await ensure_topics(msgspec.structs.replace(settings, namespace=namespace))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "REDIS_URL": settings.redis_url,
        "HALL_NAMESPACE": namespace,
        "HALL_REPLY_TIMEOUT_S": "15",
        # The processes keep this process's time (``./hall test --today`` moves both by the same offset).
        OFFSET_VARIABLE: str(SYSTEM_CLOCK.offset.total_seconds()),
    }
    home: Path = tmp_path_factory.mktemp("hall")
    names = [*SERVICES, *(instance(service, 2) for service in TWICE)]
    launcher = Launcher(home, env, {name: free_port() for name in names})
    for name in names:
        launcher.start(name)
    try:
        unhealthy = launcher.wait_healthy(names, timeout_s=90)
        assert not unhealthy, f"not healthy: {unhealthy}; see logs in {home / 'logs'}"
        yield launcher
    finally:
        for name in reversed(names):
            launcher.stop(name)


@pytest.fixture
async def gateway(processes: Launcher) -> AsyncIterator[httpx.AsyncClient]:
    base = f"http://127.0.0.1:{processes.ports['gateway']}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield client
