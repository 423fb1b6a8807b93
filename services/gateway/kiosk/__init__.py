"""The gateway's kiosk feature."""

from __future__ import annotations

from services.gateway.feature import Feature
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    return Feature()
