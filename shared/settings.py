"""Typed settings read once from the environment (see README for every variable)."""

from __future__ import annotations

import os

import msgspec


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
    reply_timeout_s: float = 10.0
    # Signs login sessions and rating links. The default is for a development hall only: set HALL_SECRET.
    secret: str = "dev-only-secret-change-me"  # noqa: S105 (development default, named as such)

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
    "reply_timeout_s": "HALL_REPLY_TIMEOUT_S",
    "secret": "HALL_SECRET",
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
