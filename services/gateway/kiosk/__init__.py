"""The 24-hour kiosk (自助终端): submit, supplement 容缺 materials, look up progress — big touch targets."""

from __future__ import annotations

from services.gateway.cases.schemas import SupplementMaterials
from services.gateway.feature import Feature
from services.gateway.kiosk.api import KioskController
from shared import topics
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:  # noqa: ARG001 (every feature is built from the settings)
    return Feature(routes=[KioskController], publishes={topics.INTAKE_COMMANDS: [SupplementMaterials]})
