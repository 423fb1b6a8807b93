"""Typed settings read once from the environment (see README for every variable)."""

from __future__ import annotations

import os
from typing import Annotated

import msgspec

Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class HallSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Settings every process of the hall shares."""

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Prefix of every topic, consumer group and Redis key: lets test runs live beside a running hall.
    namespace: str = "hall"
    region_code: str = "150525"  # 奈曼旗
    otlp_endpoint: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # The gateway's Prometheus port (shared/metrics.py): -1 for its HTTP port + 100, 0 for none; loopback by default.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = -1
    reply_timeout_s: float = 10.0
    # How long the gateway waits for Kafka to take a command before answering 503 (Retry-After) instead.
    publish_timeout_s: float = 2.0
    # How long the gateway waits out a Redis that refuses connections or is loading before answering 503.
    redis_retry_s: float = 3.0
    # Seconds a 503 asks the client to wait before retrying (Retry-After).
    retry_after_s: int = 5
    # The install secret: every key (sessions, rating links, personal data) derives from it (shared/secrets.py).
    # No default: every service refuses to start without a strong one; ./hall up generates .hall/secret.
    secret: str = ""
    # The secret before a rotation: what it signed stays valid while this is set (HALL_SECRET_PREVIOUS).
    secret_previous: str = ""
    # Where the public reaches the hall, e.g. https://hall.example.gov.cn: links, QR codes, cookie flags, CSRF.
    public_url: str = ""
    # Demo mode: the demo users of data/users.toml (password hall2026) may sign in. Off unless HALL_DEMO=1.
    demo: bool = False
    # The users' file (HALL_USERS_FILE); empty means data/users.toml.
    users_file: str = ""
    # Requests per minute one caller (token, session or address) may send the gateway; 0 turns the limit off.
    api_rate_per_minute: int = 6000
    # Consumption (shared/kafka.py, shared/lanes.py; defaults measured: README "Benchmark"). Records taken per fetch:
    consume_batch_max: Positive = 500
    # Records of different keys handled at once per consumer (each key strictly in order):
    lane_concurrency: Positive = 64
    # Records taken and not yet finished per consumer (those parked behind a waiting key included): past it the
    # consumer pauses fetching until half of them are done, so memory stays bounded.
    max_held_records: Positive = 5000
    # How long the broker may hold a fetch for more data, and how much one fetch (one partition) may bring.
    fetch_max_wait_ms: NonNegative = 100
    fetch_min_bytes: Positive = 1
    # A patient subscription (a service that reacts to few of a busy topic's records, and not in a hurry: intake,
    # routing and evaluation to timing's events, intake to routing's): the broker holds its fetch until this many
    # bytes or this long, so it asks a few times a second instead of once for every record the topic gets.
    patient_fetch_wait_ms: NonNegative = 1000
    patient_fetch_min_bytes: Positive = 1024 * 1024
    fetch_max_bytes: Positive = 50 * 1024 * 1024
    fetch_partition_bytes: Positive = 1024 * 1024
    # The producer: how long it waits to fill a batch, and a batch's size per partition.
    producer_linger_ms: NonNegative = 0
    producer_batch_bytes: Positive = 64 * 1024
    # Connections to Redis per process (a blocking pool: more callers wait for one).
    redis_pool_size: Positive = 256

    def topic(self, name: str) -> str:
        """Full topic name, e.g. ``hall.intake.events``."""
        return f"{self.namespace}.{name}"

    def key(self, service: str, *parts: str) -> str:
        """A Redis key in the service's own key space."""
        return ":".join((self.namespace, service, *parts))


_ENV = {
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "redis_url": "REDIS_URL",
    "namespace": "HALL_NAMESPACE",
    "region_code": "HALL_REGION_CODE",
    "otlp_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
    "http_host": "HALL_HTTP_HOST",
    "http_port": "HALL_HTTP_PORT",
    "metrics_host": "HALL_METRICS_HOST",
    "metrics_port": "HALL_METRICS_PORT",
    "reply_timeout_s": "HALL_REPLY_TIMEOUT_S",
    "publish_timeout_s": "HALL_PUBLISH_TIMEOUT_S",
    "redis_retry_s": "HALL_REDIS_RETRY_S",
    "retry_after_s": "HALL_RETRY_AFTER_S",
    "secret": "HALL_SECRET",
    "secret_previous": "HALL_SECRET_PREVIOUS",
    "public_url": "HALL_PUBLIC_URL",
    "demo": "HALL_DEMO",
    "users_file": "HALL_USERS_FILE",
    "api_rate_per_minute": "HALL_API_RATE_PER_MINUTE",
    "consume_batch_max": "HALL_CONSUME_BATCH_MAX",
    "lane_concurrency": "HALL_LANE_CONCURRENCY",
    "max_held_records": "HALL_MAX_HELD_RECORDS",
    "fetch_max_wait_ms": "HALL_FETCH_MAX_WAIT_MS",
    "fetch_min_bytes": "HALL_FETCH_MIN_BYTES",
    "patient_fetch_wait_ms": "HALL_PATIENT_FETCH_WAIT_MS",
    "patient_fetch_min_bytes": "HALL_PATIENT_FETCH_MIN_BYTES",
    "fetch_max_bytes": "HALL_FETCH_MAX_BYTES",
    "fetch_partition_bytes": "HALL_FETCH_PARTITION_BYTES",
    "producer_linger_ms": "HALL_PRODUCER_LINGER_MS",
    "producer_batch_bytes": "HALL_PRODUCER_BATCH_BYTES",
    "redis_pool_size": "HALL_REDIS_POOL_SIZE",
}


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> HallSettings:
    """Read settings from the environment; a bad value fails loudly with the variable's name."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {field: env[var] for field, var in _ENV.items() if env.get(var)}
    raw.update(overrides)
    try:
        return msgspec.convert(raw, HallSettings, strict=False)
    except msgspec.ValidationError as exc:
        culprits = [var for field, var in _ENV.items() if f"$.{field}" in str(exc)]
        raise ValueError(f"invalid hall setting {' '.join(culprits)}: {exc}") from exc
