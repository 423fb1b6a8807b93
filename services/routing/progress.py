"""How a case moves on when one of its tracks is finished: the next step, the next stage, or 办结 once.

A track's 决定 通过 grants its item; 不予许可 at any step refuses it. A bundle child's end is published as
``ChildCompleted``. When every track of the current stage is finished, the next stage opens if they were all
granted; otherwise (or after the last stage) the case is completed — exactly once — and any child never
started (a later 工程建设 stage after a refusal) is completed as 终止.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.routing.messages import CaseCompleted, ChildCompleted, ChildResult, ItemResult
from services.routing.model import RoutedCase, Track
from services.routing.plan import open_stage, open_step


def step_passed(case: RoutedCase, track: Track, seq: int, at: datetime) -> list[msgspec.Struct]:
    if seq < 3:
        return [open_step(case, track, seq + 1, at)]
    return finish_track(case, track, "准予", "", at)


def finish_track(
    case: RoutedCase, track: Track, result: ChildResult, reason: str, at: datetime
) -> list[msgspec.Struct]:
    events = _finish(case, track, result, reason, at)
    stage = [t for t in case.tracks if t.stage == case.stage]
    if any(t.status != "已办结" for t in stage):
        return events
    later = sorted({t.stage for t in case.tracks if t.stage > case.stage})
    if later and all(t.result == "准予" for t in stage):
        case.stage = later[0]
        return events + open_stage(case, at)
    for never in (t for t in case.tracks if t.status == "未开始"):
        events += _finish(case, never, "终止", "前一阶段未获准予，本事项不再办理", at)
    refused = [t for t in case.tracks if t.result == "不予"]
    case.status, case.result = "已办结", ("不予" if refused else "准予")
    case.reasons = [f"{t.item_name}（{t.department}）：{t.reason}" for t in refused]
    events.append(
        CaseCompleted(
            case_no=case.case_no, result=case.result, reasons=case.reasons, completed_at=at, items=results(case)
        )
    )
    return events


def results(case: RoutedCase) -> list[ItemResult]:
    """Every finished item's own result (each bundle child's), with the licence its 决定 issued."""
    return [
        ItemResult(
            case_no=t.case_no,
            item_code=t.item_code,
            item_name=t.item_name,
            department=t.department,
            result=t.result,
            reason=t.reason,
            licence_name=t.licence_name,
            licence_no=t.licence_no,
            validity=t.validity,
        )
        for t in case.tracks
        if t.result is not None
    ]


def _finish(case: RoutedCase, track: Track, result: ChildResult, reason: str, at: datetime) -> list[msgspec.Struct]:
    track.status, track.result, track.reason = "已办结", result, reason
    if not track.child:
        return []
    return [
        ChildCompleted(
            case_no=case.case_no,
            child_case_no=track.case_no,
            item_code=track.item_code,
            item_name=track.item_name,
            department=track.department,
            result=result,
            reason=reason,
            completed_at=at,
            licence_name=track.licence_name,
            licence_no=track.licence_no,
            validity=track.validity,
        )
    ]
