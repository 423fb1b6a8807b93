"""Redis loading its AOF after a restart (issue 12, failure 6): ``BusyLoadingError`` on its own.

A private redis-server is filled, shut down and started again with ``key-load-delay`` (Redis's own setting for
slowing a load down), so it answers LOADING for a few seconds. The hall's Redis client waits a short load out
within ``HALL_REDIS_RETRY_S``; past that bound it raises ``BusyLoadingError``, which the gateway answers with 503,
Retry-After and the reason "数据存储正在加载", never 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from redis import Redis as SyncRedis
from redis import exceptions as redis_errors

from deploy.sandbox import free_port
from services.gateway.app import _redis_unavailable
from shared.kafka import redis_client
from shared.settings import HallSettings

KEYS = 40_000
DELAY_US = 100  # per key while loading: a load of about 4 s, answering LOADING every 1,024 keys (0.1 s)


def _server(port: int, home: Path, *extra: str) -> None:
    where = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(home), "--logfile", str(home / "redis.log")]
    durability = ["--appendonly", "yes", "--save", ""]
    subprocess.run(["redis-server", *where, *durability, "--daemonize", "yes", *extra], check=True, capture_output=True)


@pytest.fixture
def loading_redis(tmp_path: Path) -> Iterator[int]:
    """A redis-server on its own port that has just restarted and is loading KEYS keys slowly."""
    port = free_port()
    _server(port, tmp_path)
    client = SyncRedis(port=port)
    try:
        for _ in range(50):
            try:
                client.ping()
                break
            except redis_errors.ConnectionError:
                time.sleep(0.1)
        pipe = client.pipeline(transaction=False)
        for n in range(KEYS):
            pipe.set(f"k{n}", b"v")
        pipe.execute()
        client.shutdown()  # appends and syncs the AOF, then exits
    except redis_errors.ConnectionError:
        pass  # shutdown closes the connection under the client
    _server(port, tmp_path, "--key-load-delay", str(DELAY_US))
    try:
        yield port
    finally:
        with contextlib.suppress(redis_errors.ConnectionError):
            SyncRedis(port=port, socket_timeout=30).shutdown(nosave=True)


async def test_a_short_bound_raises_busy_loading_and_the_gateway_answers_503(
    loading_redis: int, settings: HallSettings
) -> None:
    url = f"redis://127.0.0.1:{loading_redis}/0"
    quick = redis_client(msgspec.structs.replace(settings, redis_url=url, redis_retry_s=0.3), max_connections=4)
    patient = redis_client(msgspec.structs.replace(settings, redis_url=url, redis_retry_s=60.0), max_connections=4)
    try:
        started = time.monotonic()
        with pytest.raises(redis_errors.BusyLoadingError) as raised:
            await quick.get("k1")
        assert time.monotonic() - started < 5  # the bound, not the whole load

        answer = _redis_unavailable(7)(None, raised.value)  # type: ignore[arg-type]
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "7"
        assert "数据存储正在加载" in answer.content["detail"]

        waited = time.monotonic()
        assert await asyncio.wait_for(patient.get("k1"), timeout=60) == b"v"  # waits the load out
        assert await patient.dbsize() == KEYS
        assert time.monotonic() - waited > 0.5  # it was still loading: the patient client did wait
    finally:
        await quick.aclose()
        await patient.aclose()
