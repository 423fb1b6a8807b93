"""Signing in and out: the login page for clerks and staff, and tokens for kiosks and scripts."""

from __future__ import annotations

from services.gateway.auth.api import AuthController
from services.gateway.feature import Feature
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:  # noqa: ARG001 (every feature is built from the settings)
    return Feature(routes=[AuthController])
