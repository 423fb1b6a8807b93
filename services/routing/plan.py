"""From an accepted case to its tracks and steps: who handles what, in which order, within which limit.

Step limits: an item's promised limit is split over its three steps in the shares 承办 1/2, 审核 1/4, 决定 1/4,
in the item's own unit (timing understands fractions, e.g. 0.25 WD). Each share is rounded to a thousandth and
决定 takes what is left, so the three always add up to the promised limit exactly. Tracks run in parallel, so
each track's steps share the whole of its item's limit. A 会签 step runs beside 承办 and 审核, so it has
their shares together.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.routing.messages import STEP_NAMES, CaseAccepted, Limit, Prerequisite, StepOpened
from services.routing.model import RoutedCase, Step, Track

SHARES = (0.5, 0.25, 0.25)
COUNTERSIGN = "会签"
TOWN_AND_VILLAGE = (5, 6)  # 行使层级: 5 乡镇(苏木), 6 村(嘎查)


def step_limits(promised: Limit) -> tuple[Limit, Limit, Limit]:
    first = round(promised.value * SHARES[0], 3)
    second = round(promised.value * SHARES[1], 3)
    third = round(promised.value - first - second, 3)
    return Limit(first, promised.unit), Limit(second, promised.unit), Limit(third, promised.unit)


def departments(event: CaseAccepted) -> list[str]:
    """就近办: a town or village point accepts what it may not approve; the banner department approves it."""
    if event.point_level in TOWN_AND_VILLAGE and event.approving_department:
        return [event.approving_department]
    fallback = [event.approving_department] if event.approving_department else []
    return list(dict.fromkeys(event.departments)) or fallback


def plan_tracks(case_id: str, event: CaseAccepted) -> list[Track]:
    if event.children:
        return [
            Track(
                no=n,
                case_no=child.case_no,
                clock_id=child.case_no,
                item_code=child.item_code,
                item_name=child.item_name,
                department=child.department,
                stage=child.stage,
                promised_limit=child.promised_limit,
                child=True,
                key=child.key,
                needs=list(child.needs),
            )
            for n, child in enumerate(event.children, start=1)
        ]
    routed = departments(event)
    if not routed:
        raise ValueError(f"办件 {event.case_no} 没有承办部门，无法分办")
    co = [d for d in event.co_departments if d not in routed] if event.countersign else []
    return [
        Track(
            no=n,
            case_no=event.case_no,
            clock_id=case_id,
            item_code=event.item_code,
            item_name=event.item_name,
            department=department,
            promised_limit=event.promised_limit,
            co_departments=list(dict.fromkeys(co)) if n == 1 else [],
        )
        for n, department in enumerate(routed, start=1)
    ]


def open_case(case_id: str, event: CaseAccepted, at: datetime) -> tuple[RoutedCase, list[msgspec.Struct]]:
    """The routed case and what it publishes first: the first stage's 承办 steps (a 跨省通办 case is opened by
    :func:`services.routing.external.open_case` instead: it waits for the clerk to send it)."""
    tracks = plan_tracks(case_id, event)
    case = RoutedCase(
        case_id=case_id,
        case_no=event.case_no,
        item_code=event.item_code,
        item_name=event.item_name,
        bundle=bool(event.children),
        point=event.point if event.point_level in TOWN_AND_VILLAGE else "",
        tracks=tracks,
        stage=min(t.stage for t in tracks),
        owed=list(event.owed_materials),
        applicant_name=event.applicant_name,
        applicant_phone=event.applicant_phone,
    )
    return case, open_stage(case, at)


def ready(case: RoutedCase, track: Track) -> bool:
    """前后置: every child the track needs is granted (准予)."""
    granted = {t.key for t in case.tracks if t.result == "准予"}
    return all(need in granted for need in track.needs)


def open_stage(case: RoutedCase, at: datetime) -> list[msgspec.Struct]:
    """Every track of the case's current stage whose prerequisites are granted starts with its 承办 step (and its
    co-departments' 会签 steps), all at once (并联办理); a track still waiting for a prerequisite stays 未开始."""
    opened: list[msgspec.Struct] = []
    for track in case.tracks:
        if track.stage == case.stage and track.status == "未开始" and ready(case, track):
            track.status = "办理中"
            opened.append(open_step(case, track, 1, at))
            opened += [open_countersign(case, track, n, at) for n in range(1, len(track.co_departments) + 1)]
    return opened


def prerequisites(case: RoutedCase, track: Track) -> list[Prerequisite]:
    """The granted results of the children ``track`` needs, passed on to its steps (the licence number)."""
    by_key = {t.key: t for t in case.tracks if t.key}
    return [
        Prerequisite(
            case_no=t.case_no,
            item_name=t.item_name,
            department=t.department,
            licence_name=t.licence_name,
            licence_no=t.licence_no,
            validity=t.validity,
        )
        for t in (by_key[k] for k in track.needs if k in by_key)
    ]


def open_step(case: RoutedCase, track: Track, seq: int, at: datetime) -> StepOpened:
    limit = step_limits(track.promised_limit)[seq - 1]
    step = Step(
        step_id=f"{case.case_id}-{track.no}-{seq}",
        track=track.no,
        seq=seq,
        name=STEP_NAMES[seq - 1],
        department=track.department,
        limit=limit,
        started_at=at,
    )
    return _opened(case, track, step)


def open_countersign(case: RoutedCase, track: Track, n: int, at: datetime) -> StepOpened:
    """会签: the ``n``-th co-department's step, beside 承办 and 审核 (with their shares of the limit)."""
    first, second, _ = step_limits(track.promised_limit)
    step = Step(
        step_id=f"{case.case_id}-{track.no}-hq{n}",
        track=track.no,
        seq=2,
        name=COUNTERSIGN,
        department=track.co_departments[n - 1],
        limit=Limit(round(first.value + second.value, 3), first.unit),
        started_at=at,
        countersign=True,
    )
    return _opened(case, track, step)


def _opened(case: RoutedCase, track: Track, step: Step) -> StepOpened:
    case.steps.append(step)
    at, seq, limit = step.started_at, step.seq, step.limit
    return StepOpened(
        case_no=case.case_no,
        step_id=step.step_id,
        step_name=step.name,
        seq=seq,
        department=step.department,
        item_code=track.item_code,
        item_name=track.item_name,
        item_case_no=track.case_no,
        stage=track.stage,
        limit=limit,
        point=case.point,
        opened_at=at,
        countersign=step.countersign,
        prerequisites=prerequisites(case, track),
    )
