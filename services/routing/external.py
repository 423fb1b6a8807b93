"""跨省通办: a case handed to the competent jurisdiction, its receipt and its result; pure, no I/O."""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.routing.messages import Result
from services.routing.model import RoutedCase
from services.routing.progress import finish_track


def received(case: RoutedCase, external_case_no: str) -> None:
    case.external_case_no = case.external_case_no or external_case_no


def result(case: RoutedCase, outcome: Result, opinion: str, jurisdiction: str, at: datetime) -> list[msgspec.Struct]:
    """The other jurisdiction decided; a repeated result changes nothing."""
    track = next((t for t in case.tracks if t.external and t.status != "已办结"), None)
    if track is None or case.status != "办理中":
        return []
    reason = (opinion or f"{jurisdiction}不予许可") if outcome == "不予" else ""
    return finish_track(case, track, outcome, reason, at)
