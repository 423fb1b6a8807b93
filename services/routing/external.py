"""跨省通办 (收件地代收, 办理地办理): a case received here for the competent jurisdiction; pure, no I/O.

The hall's part is only the first one: on 受理 the case waits (track ``未开始``) for the clerk to check it and send
it — push the electronic materials or post the originals — within the item's ``handover_limit`` (timing's case
clock runs on that limit alone, against our department). ``SendHandover`` publishes ``HandedOver`` (on
``routing.events`` and ``external.requests``) with the materials and the tracking number, and asks timing for a
clock on the receipt (``RECEIPT``, charged to the other jurisdiction, never to a local department): its alerts
tell the operators that no receipt came. The other jurisdiction's receipt withdraws that clock; its result
finishes the case, which is then handed out at our window (统一出件) like any other. A 一件事 of scope 跨省 is
handed over as one case with one track.
"""

from __future__ import annotations

import os
from datetime import datetime

import msgspec

from services.routing.messages import (
    CaseAccepted,
    ClockRequested,
    ClockWithdrawn,
    HandedOver,
    Limit,
    Result,
    SendHandover,
    Unit,
)
from services.routing.model import RoutedCase, Track
from services.routing.progress import finish_track
from shared.replies import Refusal

RECEIPT = "待对方接收"  # the purpose of the clock on the other jurisdiction's receipt
RECEIPT_LIMIT_VARIABLE = "HALL_EXTERNAL_RECEIPT_LIMIT"  # e.g. "2WD", "4WH"
DEFAULT_RECEIPT_LIMIT = Limit(2, "WD")
UNITS: tuple[Unit, ...] = ("WD", "WH", "ND", "NH")


def receipt_limit(text: str | None = None) -> Limit:
    """The configured time for a receipt (``HALL_EXTERNAL_RECEIPT_LIMIT``, e.g. ``2WD``); 2 WD when unset."""
    raw = (os.environ.get(RECEIPT_LIMIT_VARIABLE, "") if text is None else text).strip().upper()
    if not raw:
        return DEFAULT_RECEIPT_LIMIT
    for unit in UNITS:
        if raw.endswith(unit):
            try:
                value = float(raw.removesuffix(unit))
            except ValueError:
                break
            if value > 0:
                return Limit(value, unit)
    raise ValueError(f"{RECEIPT_LIMIT_VARIABLE}={raw!r}：应为正数加单位 WD/WH/ND/NH，如 2WD")


def receipt_clock(case: RoutedCase) -> str:
    return f"{case.case_id}:{RECEIPT}"


def open_case(case_id: str, event: CaseAccepted) -> RoutedCase:
    """The case received here for another jurisdiction: one external track (a bundle's too), nothing sent yet."""
    department = event.approving_department or next(iter(event.departments), "")
    if not department and event.children:
        department = event.children[0].department
    track = Track(
        no=1,
        case_no=event.case_no,
        clock_id=case_id,
        item_code=event.item_code,
        item_name=event.item_name,
        department=department,
        promised_limit=event.promised_limit,
        external=True,
    )
    return RoutedCase(
        case_id=case_id,
        case_no=event.case_no,
        item_code=event.item_code,
        item_name=event.item_name,
        jurisdiction=event.jurisdiction or "外省",
        tracks=[track],
        owed=list(event.owed_materials),
        applicant_name=event.applicant_name,
        applicant_phone=event.applicant_phone,
        handover_items=[child.item_name for child in event.children],
    )


def _track(case: RoutedCase) -> Track:
    track = next((t for t in case.tracks if t.external), None)
    if track is None or not case.jurisdiction:
        raise Refusal(409, f"办件 {case.case_no} 不是跨省通办代收件，无需移交")
    return track


def send(case: RoutedCase, cmd: SendHandover, at: datetime, limit: Limit) -> list[msgspec.Struct]:
    """The clerk sent the case: ``HandedOver`` to the other jurisdiction and the clock on its receipt."""
    track = _track(case)
    if track.status != "未开始":
        raise Refusal(409, f"办件 {case.case_no} 已移交{case.jurisdiction}（{track.status}），不能重复移交")
    if case.status != "办理中":
        raise Refusal(409, f"办件 {case.case_no} {case.status}，不能移交")
    tracking_no = cmd.tracking_no.strip()
    if not tracking_no:
        what = "运单号" if cmd.method == "邮寄原件" else "推送回执号"
        raise Refusal(422, f"移交须填写{what}（tracking_no），以便追踪")
    track.status = "已移交"
    handed = HandedOver(
        case_no=case.case_no,
        item_code=case.item_code,
        item_name=case.item_name,
        department=track.department,
        jurisdiction=case.jurisdiction,
        applicant_name=case.applicant_name,
        handed_over_at=at,
        materials=list(cmd.materials),
        method=cmd.method,
        tracking_no=tracking_no,
        items=list(case.handover_items),
        receipt_limit=limit,
        case_id=case.case_id,
    )
    wait = ClockRequested(
        clock_id=receipt_clock(case),
        purpose=RECEIPT,
        case_no=case.case_no,
        department=case.jurisdiction,
        starts_at=at,
        limit=limit,
    )
    return [handed, wait]


def _withdraw(case: RoutedCase, at: datetime) -> ClockWithdrawn:
    return ClockWithdrawn(clock_id=receipt_clock(case), purpose=RECEIPT, case_no=case.case_no, withdrawn_at=at)


def received(case: RoutedCase, external_case_no: str, at: datetime | None = None) -> list[msgspec.Struct]:
    """The other jurisdiction confirmed receipt: its number is kept and the receipt clock withdrawn, once."""
    track = next((t for t in case.tracks if t.external), None)
    if track is None or track.status != "已移交" or case.external_case_no:
        return []
    case.external_case_no = external_case_no or "已接收"
    return [] if at is None else [_withdraw(case, at)]


def result(
    case: RoutedCase,
    outcome: Result,
    opinion: str,
    jurisdiction: str,
    at: datetime,
    *,
    licence_name: str = "",
    licence_no: str = "",
) -> list[msgspec.Struct]:
    """The other jurisdiction decided; a repeated result changes nothing. A result without a receipt before it
    counts as the receipt."""
    track = next((t for t in case.tracks if t.external and t.status == "已移交"), None)
    if track is None or case.status != "办理中":
        return []
    withdrawn = received(case, case.external_case_no or f"{jurisdiction}已办结", at)
    reason = (opinion or f"{jurisdiction}不予许可") if outcome == "不予" else ""
    if outcome == "准予":
        track.licence_name, track.licence_no = licence_name, licence_no
    return withdrawn + finish_track(case, track, outcome, reason, at)
