"""运行监控: the operators' page of records some service cannot get through (``<ns>:ops:stuck``), so an alert is
more than one ERROR line in a log nobody reads."""

from __future__ import annotations

from services.gateway.feature import Feature
from services.gateway.ops.api import OpsController, OpsPages
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:  # noqa: ARG001 (every feature takes the settings)
    return Feature(routes=[OpsController, OpsPages])
