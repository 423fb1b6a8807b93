"""Where the tests find the real Kafka and Redis.

``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL`` from the environment win (``./hall test`` sets them after
starting both); on a machine with Docker and without them, testcontainers starts throwaway containers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager


@contextmanager
def real_infrastructure() -> Iterator[tuple[str, str]]:
    kafka, redis = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("REDIS_URL")
    with ExitStack() as stack:
        if (not kafka or not redis) and shutil.which("docker"):
            from testcontainers.kafka import KafkaContainer  # noqa: PLC0415 (only where Docker exists)
            from testcontainers.redis import RedisContainer  # noqa: PLC0415

            if not kafka:
                kafka = stack.enter_context(KafkaContainer().with_kraft()).get_bootstrap_server()
            if not redis:
                container = stack.enter_context(RedisContainer())
                redis = f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
        if not kafka or not redis:
            raise RuntimeError(
                "integration tests need the real Kafka and Redis: run them with ./hall test, or set "
                "KAFKA_BOOTSTRAP_SERVERS and REDIS_URL"
            )
        yield kafka, redis
