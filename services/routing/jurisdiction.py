"""The other jurisdiction of 跨省通办 for tests: the demo counterpart (services/counterpart) answering at once.

Kept for the tests and documents that started it in process; ``./hall up`` runs the real process
(``python -m services.counterpart``).
"""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from services.counterpart.app import SERVICE, Decision, grant
from services.counterpart.app import build as build_counterpart
from shared.kafka import ServiceRuntime
from shared.settings import HallSettings

__all__ = ["SERVICE", "Decision", "build", "grant"]


def build(settings: HallSettings, spans: SpanProcessor | None = None, decide: Decision = grant) -> ServiceRuntime:
    return build_counterpart(settings, spans, decide, delay=0.0)
