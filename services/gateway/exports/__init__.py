"""导出: what the SLA board, the rating statistics and the 差评整改台账 show, as CSV or XLSX (operators report
upward in spreadsheets)."""

from __future__ import annotations

from services.gateway.feature import Feature
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:  # noqa: ARG001 (every feature is built from the settings)
    # Imported here: the pages import exports.sheets (the row cap), and the routes import those pages' areas.
    from services.gateway.exports.api import ExportController  # noqa: PLC0415

    return Feature(routes=[ExportController])
