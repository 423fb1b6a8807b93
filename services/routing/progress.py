"""How a case moves on when one of its tracks is finished: the next step, the next stage, or 办结 once.

A track's 决定 通过 grants its item; 不予许可 at any step refuses it. A bundle child's end is published as
``ChildCompleted``. A child that ``needs`` others (一件事的前后置) opens when they are all granted, with their
results; when one of them is refused (or ends 终止), every child depending on it, directly or through another,
is closed 不予办理 with the reason naming it, and the applicant is told once, in one notice for the bundle.
A single item's 会签 steps and its 审核 join: its 决定 opens when all of them are passed; a refusal on either
side refuses the item and closes the steps still open on the other (``StepsClosed``).
When every track of the current stage is finished, the next stage opens if they were all granted; otherwise
(or after the last stage) the case is completed — exactly once — and any child never started (a later
工程建设 stage after a refusal) is completed as 终止. A finished track finishes only once: the same result
applied again (a redelivered event) publishes nothing.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.routing.messages import (
    ApplicantNotified,
    CaseCompleted,
    ChildCompleted,
    ChildResult,
    ItemResult,
    NoticeKind,
    StepsClosed,
)
from services.routing.model import RoutedCase, Step, Track
from services.routing.plan import open_stage, open_step

CLOSED_NOTICE: NoticeKind = "不予办理"


def step_passed(case: RoutedCase, track: Track, step: Step, at: datetime) -> list[msgspec.Struct]:
    """The step was passed (通过): the next step, the 会签 join before 决定, or the item granted."""
    if step.countersign or (step.seq == 2 and any(s.countersign for s in case.steps if s.track == track.no)):
        return [open_step(case, track, 3, at)] if joined(case, track) else []
    if step.seq < 3:
        return [open_step(case, track, step.seq + 1, at)]
    return finish_track(case, track, "准予", "", at)


def joined(case: RoutedCase, track: Track) -> bool:
    """会签: the lead's 审核 and every co-department's 会签 are passed (and the 决定 not opened yet)."""
    mine = [s for s in case.steps if s.track == track.no]
    if any(s.seq == 3 for s in mine) or not any(s.seq == 2 and not s.countersign for s in mine):
        return False
    return all(s.status == "已办" and s.action == "通过" for s in mine if s.seq == 2)


def finish_track(
    case: RoutedCase, track: Track, result: ChildResult, reason: str, at: datetime
) -> list[msgspec.Struct]:
    if track.status == "已办结" or case.status != "办理中":
        return []  # finished already: the same result again changes nothing
    events = _finish(case, track, result, reason, at)
    events += _close_open_steps(case, track, result, reason, at)
    if result == "准予":
        events += open_stage(case, at)  # the children that needed it, now ready, open
    else:
        events += _close_dependents(case, track, at)
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


def dependents(case: RoutedCase, track: Track) -> list[Track]:
    """The tracks that need ``track``, directly or through another, in the case's order."""
    closed: set[str] = {track.key}
    grown = True
    while grown:
        grown = False
        for t in case.tracks:
            if t.key and t.key not in closed and closed & set(t.needs):
                closed.add(t.key)
                grown = True
    return [t for t in case.tracks if t.key in closed and t is not track]


def _close_dependents(case: RoutedCase, track: Track, at: datetime) -> list[msgspec.Struct]:
    """The refused (or 终止) prerequisite's dependents never open: each is closed 不予办理, naming it; one notice."""
    if not track.key:
        return []
    waiting = [t for t in dependents(case, track) if t.status == "未开始"]
    if not waiting:
        return []
    how = "不予许可" if track.result == "不予" else "终止办理"
    reason = f"前置事项{track.item_name}（{track.department}，{track.case_no}）{how}，本事项不予办理"
    events: list[msgspec.Struct] = []
    for t in waiting:
        events += _finish(case, t, "终止", reason, at, closed_by=track.case_no)
    names = "、".join(f"{t.item_name}（{t.case_no}）" for t in waiting)
    why = f"：{track.reason}" if track.reason else ""
    text = (
        f"{case.applicant_name or '申请人'}：您申请的{case.item_name}（办件编号 {case.case_no}）中，"
        f"{track.item_name}（{track.department}）{how}{why}。依赖其办理结果的{names}不予办理。"
        "如对决定不服，可依法申请行政复议或者提起行政诉讼。"
    )
    last = next((s for s in reversed(case.steps) if s.track == track.no), None)
    case.notices += 1
    events.append(
        ApplicantNotified(
            case_no=case.case_no,
            item_case_no=track.case_no,
            item_name=track.item_name,
            item_code=track.item_code,
            step_id=last.step_id if last is not None else "",
            department=track.department,
            notice_no=f"{case.case_no}-GZ{case.notices:02d}",
            kind=CLOSED_NOTICE,
            title="不予办理告知书",
            text=text,
            applicant_name=case.applicant_name,
            applicant_phone=case.applicant_phone,
            notified_at=at,
        )
    )
    return events


def _close_open_steps(
    case: RoutedCase, track: Track, result: ChildResult, reason: str, at: datetime
) -> list[msgspec.Struct]:
    """会签: an item refused on one side closes the steps still open on the other."""
    still = [s for s in case.steps if s.track == track.no and s.status == "待办"]
    if not still:
        return []
    why = f"本事项已{'不予许可' if result == '不予' else '办结'}" + (f"（{reason}）" if reason else "")
    for s in still:
        s.status, s.ended_at, s.waiting = "已办", at, ""
    return [StepsClosed(case_no=case.case_no, step_ids=[s.step_id for s in still], reason=why, closed_at=at)]


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


def _finish(
    case: RoutedCase, track: Track, result: ChildResult, reason: str, at: datetime, *, closed_by: str = ""
) -> list[msgspec.Struct]:
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
            closed_by=closed_by,
        )
    ]
