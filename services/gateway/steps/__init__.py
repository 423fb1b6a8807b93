"""Back-office steps: each department's inbox and its decisions."""

from __future__ import annotations

from services.gateway.feature import Feature, provide
from services.gateway.steps.api import StepController
from services.gateway.steps.inbox import Inbox
from services.gateway.steps.schemas import DecideStep
from shared import topics
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    inbox = Inbox(settings)
    return Feature(
        routes=[StepController],
        tables=[inbox.table()],
        publishes={topics.ROUTING_COMMANDS: [DecideStep]},
        dependencies={"inbox": provide(inbox)},
    )
