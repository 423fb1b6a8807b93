"""Cases at the window and the kiosk: submission, progress and timeline, delivery."""

from __future__ import annotations

from services.gateway.cases.api import CaseController
from services.gateway.cases.schemas import SubmitApplication
from services.gateway.feature import Feature
from shared import topics
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:  # noqa: ARG001 (every feature is built from the settings)
    # The case timeline itself is part of the gateway's core (every feature finds cases through it).
    return Feature(
        routes=[CaseController],
        publishes={
            topics.INTAKE_COMMANDS: [SubmitApplication],
        },
    )
