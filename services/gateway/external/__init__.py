"""跨省通办 (收件地代收, 办理地办理): the desk's list and handover, the operators' entry of answers, and the adapter
the other jurisdictions' platforms call (services/gateway/external/api.py)."""

from __future__ import annotations

from services.gateway.external.api import ExternalController
from services.gateway.external.events import SendHandover
from services.gateway.external.keys import ExternalKeys
from services.gateway.external.store import CrossCases
from services.gateway.feature import Feature, provide
from services.gateway.views.external import ExternalResult, HandoverReceived
from shared import topics
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    cases = CrossCases(settings)
    return Feature(
        routes=[ExternalController],
        tables=[cases.table()],
        publishes={topics.ROUTING_COMMANDS: [SendHandover], topics.EXTERNAL_EVENTS: [HandoverReceived, ExternalResult]},
        dependencies={"external_cases": provide(cases), "external_keys": provide(ExternalKeys.from_environment())},
    )
