"""What back-office staff do on a step, and the rules that refuse it; pure, no I/O.

Every operation changes the case in place and returns the events to publish, or raises :class:`Refusal`
(with the HTTP status and a Chinese reason) before changing anything.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.routing.messages import (
    OVERDUE,
    RETURN,
    SUSPENSION,
    Action,
    ApplicantNotified,
    CaseReturned,
    ClockRequested,
    ClockWithdrawn,
    ExtensionApproved,
    ExtensionRejected,
    ExtensionRequested,
    Limit,
    NoticeKind,
    SpecialKind,
    SpecialProcedureEnded,
    SpecialProcedureStarted,
    StepClaimed,
    StepDecided,
    StepEscalated,
    StepReassigned,
    StepResumed,
)
from services.routing.model import PendingExtension, RoutedCase, Special, Step, Track
from services.routing.progress import finish_track, step_passed
from shared.catalogue import limit_text
from shared.localtime import local
from shared.replies import Refusal

WARNING = "预警"  # timing's first alert level; only levels past it (逾期 and after) escalate


class Who(msgspec.Struct, frozen=True):
    """The person acting: id and name from the command's envelope, department as the gateway vouches."""

    id: str
    name: str
    department: str
    role: str = "staff"


class ExtensionCap(msgspec.Struct, frozen=True, kw_only=True):
    count: int = 1
    limit: Limit = Limit(10, "WD")
    basis: str = "《中华人民共和国行政许可法》第四十二条"


class Rules(msgspec.Struct, frozen=True, kw_only=True):
    """What an item's catalogue entry allows on its steps (handlers read it from the catalogue for each track)."""

    item_type: str = ""
    one_person: bool = False  # 即办件 whose law lets one person do 承办, 审核 and 决定
    cap: ExtensionCap = ExtensionCap()
    special_procedures: tuple[str, ...] = ()
    return_limit: Limit = Limit(15, "WD")  # 退回补正期限 (catalogue return_limit): past it the case is 退件
    licence: str = ""  # 证照名称 a grant of the item issues ("" none): its 决定 准予 must give the number


STRICT = Rules()  # an item the catalogue does not know: separation of duties, one extension, no special procedure
SEPARATION = "同一办件的承办、审核、决定须由不同人员办理"
LICENSING_SPECIAL_BASIS = "《中华人民共和国行政许可法》第四十五条"


def _separate(case: RoutedCase, step: Step, who: Who, rules: Rules) -> None:
    """岗位分离: whoever did an earlier step of the same track may not take or decide a later one."""
    if rules.one_person:
        return
    done = [
        s.name
        for s in case.steps
        if s.track == step.track and s.seq < step.seq and s.status == "已办" and s.assignee_id == who.id
    ]
    if done:
        raise Refusal(
            403,
            f"{SEPARATION}：{who.name}已办理本件的{'、'.join(done)}，不能再办理{step.name}"
            "（行政许可法、GB/T 39046 岗位分离；本事项不属于可由一人办结的即办件）",
        )


def _department(step: Step, who: Who) -> None:
    if step.department != who.department:
        raise Refusal(403, f"该环节属于{step.department}，{who.department or who.name}无权办理")


def _still_open(case: RoutedCase, step: Step) -> None:
    if case.status == "已退件":
        raise Refusal(409, f"办件 {case.case_no} {_ended_at(case)}退件（{'；'.join(case.reasons)}），不能再办理环节")
    if step.status == "已办" and step.ended_at is not None:
        raise Refusal(409, f"该环节已于 {local(step.ended_at)} 办理（{step.action}），不能重复办理")
    if case.status != "办理中":
        raise Refusal(409, f"办件 {case.case_no} 已{case.status.removeprefix('已')}（{case.result}），不能再办理环节")


def _acting_on(case: RoutedCase, step_id: str, who: Who) -> Step:
    step = case.step(step_id)
    _department(step, who)
    _still_open(case, step)
    return step


def _workable(case: RoutedCase, step: Step, who: Who) -> None:
    if case.suspended:
        raise Refusal(409, f"办件 {case.case_no} 已中止（{case.suspended}），补齐材料后才能继续办理")
    if step.waiting == "补正":
        raise Refusal(409, "该环节已退回补正，申请人补正材料后才能继续办理")
    if step.special is not None:
        raise Refusal(409, f"该环节正在进行特别程序（{step.special.kind}），结束后才能办理")
    if step.assignee_id and step.assignee_id != who.id:
        raise Refusal(409, f"该环节已由{step.assignee_name}认领，只有认领人可以办理（可请科室负责人改派）")


def claim(case: RoutedCase, step_id: str, who: Who, at: datetime, rules: Rules = STRICT) -> list[msgspec.Struct]:
    step = _acting_on(case, step_id, who)
    if step.assignee_id == who.id:
        raise Refusal(409, f"{who.name}已认领该环节，无需重复认领")
    if step.assignee_id:
        raise Refusal(409, f"该环节已由{step.assignee_name}认领")
    _separate(case, step, who, rules)
    step.assignee_id, step.assignee_name = who.id, who.name
    return [
        StepClaimed(
            case_no=case.case_no,
            step_id=step.step_id,
            step_name=step.name,
            department=step.department,
            assignee_id=who.id,
            assignee_name=who.name,
            claimed_at=at,
        )
    ]


def decide(
    case: RoutedCase,
    step_id: str,
    *,
    action: Action,
    opinion: str,
    who: Who,
    at: datetime,
    materials: list[str] | None = None,
    rules: Rules = STRICT,
    licence: Licence | None = None,
) -> list[msgspec.Struct]:
    step = _acting_on(case, step_id, who)
    _workable(case, step, who)
    _separate(case, step, who, rules)
    wanted = [m.strip() for m in materials or [] if m.strip()]
    if action == "退回" and not wanted:
        raise Refusal(422, "退回补正须列明需要补正的材料")
    if action == "不予许可" and not opinion.strip():
        raise Refusal(422, "不予许可须说明理由")
    issued = _licence(step, action, licence or Licence(), rules)
    track = case.track(step.track)
    decided = StepDecided(
        case_no=case.case_no,
        step_id=step.step_id,
        step_name=step.name,
        department=step.department,
        item_case_no=track.case_no,
        action=action,
        opinion=opinion,
        materials=wanted if action == "退回" else [],
        handler_id=who.id,
        handler_name=who.name,
        decided_at=at,
        licence_name=issued.name,
        licence_no=issued.number,
        validity=issued.validity,
    )
    step.opinion = opinion
    if action == "退回":
        step.waiting, step.returned = "补正", wanted
        step.return_clock = f"{step.step_id}:{RETURN}:{at:%Y%m%d%H%M%S}"
        limit = ClockRequested(
            clock_id=step.return_clock,
            purpose=RETURN,
            case_no=case.case_no,
            department=step.department,
            starts_at=at,
            limit=rules.return_limit,
        )
        return [decided, limit]
    step.status, step.action, step.handler, step.ended_at = "已办", action, who.name, at
    step.assignee_id, step.assignee_name = step.assignee_id or who.id, step.assignee_name or who.name
    if action == "通过":
        track.licence_name, track.licence_no, track.validity = issued.name, issued.number, issued.validity
        return [decided, *step_passed(case, track, step, at)]
    why = f"会签部门{step.department}不同意：{opinion.strip()}" if step.countersign else opinion.strip()
    return [decided, *finish_track(case, track, "不予", why, at)]


class Licence(msgspec.Struct, frozen=True, kw_only=True):
    """The licence a 决定 准予 issues: 证照名称, 证照编号, 有效期 (as written on it; optional)."""

    name: str = ""
    number: str = ""
    validity: str = ""


DECISION_SEQ = 3  # 决定


def _licence(step: Step, action: Action, given: Licence, rules: Rules) -> Licence:
    """The result recorded at the 决定: a grant of an item that issues a licence names it and gives its number."""
    given = Licence(name=given.name.strip(), number=given.number.strip(), validity=given.validity.strip())
    if step.seq != DECISION_SEQ or action != "通过":
        if given.name or given.number or given.validity:
            raise Refusal(422, "证照名称、证照编号、有效期只在决定环节准予时填写（licence_name、licence_no、validity）")
        return given
    name = given.name or rules.licence
    if rules.licence and not given.number:
        raise Refusal(422, f"准予决定须填写证照编号（licence_no）：本事项准予后颁发{rules.licence}")
    if given.number and not name:
        raise Refusal(422, "填写证照编号须同时填写证照名称（licence_name）")
    if given.validity and not name:
        raise Refusal(422, "填写有效期须同时填写证照名称（licence_name）")
    return Licence(name=name, number=given.number, validity=given.validity)


def resume(case: RoutedCase, step_id: str, who: Who, reason: str, at: datetime) -> list[msgspec.Struct]:
    step = _acting_on(case, step_id, who)
    if step.waiting != "补正":
        raise Refusal(409, "该环节没有退回补正，无需恢复办理")
    return _resumed(case, step, reason or f"{who.name}确认补正材料已收到", at)


def resume_returned(case: RoutedCase, reason: str, at: datetime) -> list[msgspec.Struct]:
    """The applicant supplemented: every step returned for supplement goes on."""
    return [e for s in _returned_steps(case) for e in _resumed(case, s, reason, at)]


def _returned_steps(case: RoutedCase) -> list[Step]:
    return [s for s in case.steps if s.status == "待办" and s.waiting == "补正"]


def _resumed(
    case: RoutedCase, step: Step, reason: str, at: datetime, supplemented: list[str] | None = None
) -> list[msgspec.Struct]:
    """The step goes on (its clocks resume on StepResumed); the clock on the return's limit is withdrawn."""
    clock, step.waiting, step.returned, step.return_clock = step.return_clock, "", [], ""
    resumed = StepResumed(
        case_no=case.case_no,
        step_id=step.step_id,
        step_name=step.name,
        department=step.department,
        reason=reason,
        resumed_at=at,
        supplemented=supplemented or [],
    )
    if not clock:
        return [resumed]
    return [resumed, ClockWithdrawn(clock_id=clock, purpose=RETURN, case_no=case.case_no, withdrawn_at=at)]


def _ended_at(case: RoutedCase) -> str:
    return f"已于 {local(case.returned_at)} " if case.returned_at else "已"


def supplement_returned(case: RoutedCase, materials: list[str], *, channel: str, at: datetime) -> list[msgspec.Struct]:
    """补正 by the applicant (kiosk with the ID proved, or a clerk at the window): the materials every returned
    step asked for, all at once; each step resumes, as staff's /resume does, recorded as the applicant's."""
    if case.status == "已退件":
        reason = "；".join(case.reasons)
        raise Refusal(
            409,
            f"办件 {case.case_no} {_ended_at(case)}退件（{reason}），不能再补正材料；请携带全部材料重新申报",
        )
    if case.status != "办理中":
        raise Refusal(409, f"办件 {case.case_no} 已{case.status.removeprefix('已')}，无需补正材料")
    returned = _returned_steps(case)
    if not returned:
        raise Refusal(409, f"办件 {case.case_no} 没有退回补正的材料")
    wanted = list(dict.fromkeys(m for s in returned for m in s.returned))
    given = list(dict.fromkeys(m.strip() for m in materials if m.strip()))
    if not given:
        raise Refusal(422, f"请提交退回补正的材料：{'、'.join(wanted)}")
    strangers = [m for m in given if wanted and m not in wanted]
    if strangers:
        raise Refusal(422, f"这些材料不在退回补正清单中：{'、'.join(strangers)}（需补正：{'、'.join(wanted)}）")
    missing = [m for m in wanted if m not in given]
    if missing:
        raise Refusal(422, f"退回补正的材料须一次补齐，仍缺：{'、'.join(missing)}（需补正：{'、'.join(wanted)}）")
    reason = f"申请人补正材料（{channel or '窗口'}）：{'、'.join(given)}"
    return [e for s in returned for e in _resumed(case, s, reason, at, given)]


CAUSES = {RETURN: "退回补正", SUSPENSION: "容缺中止"}


def lapse(
    case: RoutedCase,
    clock_id: str,
    *,
    purpose: str,
    level: str,
    deadline: datetime | None,
    at: datetime,
    rules: Rules = STRICT,
) -> list[msgspec.Struct]:
    """A return's limit or a 容缺 suspension's further period passed (timing's 逾期): 退件, if nothing came."""
    if level != OVERDUE or case.status != "办理中":
        return []
    open_steps = [s for s in case.steps if s.status == "待办"]
    if purpose == RETURN:
        lapsed = next((s for s in open_steps if s.waiting == "补正" and s.return_clock == clock_id), None)
        if lapsed is None:
            return []  # supplemented (the clock was withdrawn) or already ended
        track = case.track(lapsed.track)
        missing = lapsed.returned
        length = limit_text(rules.return_limit.value, rules.return_limit.unit)
        reason = f"{lapsed.department}{lapsed.name}环节退回补正后，申请人逾期未补正（期限{length}）"
        what = f"经{lapsed.department}审查，需补正以下材料：{'、'.join(missing) or '（见补正通知书）'}"
        basis = f"本事项办事指南（退回补正期限{length}）"
        anchor: Step | None = lapsed
    elif purpose == SUSPENSION:
        if not case.suspended:
            return []  # the owed materials came in time
        track = case.tracks[0]
        missing = [m.name or m.code for m in case.owed]
        reason = f"容缺受理的材料逾期未补齐，办件中止后仍未补齐（{case.suspended}）"
        what = f"容缺受理时您承诺补齐的材料（{'、'.join(missing)}）逾期未补齐，本件已中止办理"
        basis = "本政务服务中心容缺受理规定（容缺材料逾期未补齐的，中止办理；中止后期满仍未补齐的，退件）"
        anchor = open_steps[0] if open_steps else None
    else:
        return []
    for step in open_steps:
        step.status, step.waiting, step.ended_at = "已办", "", at
    case.status, case.reasons, case.returned_at, case.suspended = "已退件", [reason], at, ""
    until = f"已于 {local(deadline)} 届满" if deadline else "已届满"
    text = (
        f"{case.applicant_name or '申请人'}：您申请办理的“{track.item_name}”（办件编号 {track.case_no}），"
        f"{what}。补正期限{until}，您未补正材料，本件作退件处理，所提交的申请材料退还申请人。"
        "您补齐全部材料后，可以重新申报。特此通知。"
    )
    notice = _notice(case, track, anchor, "退件", text, basis=basis, at=at)
    returned = CaseReturned(
        case_no=case.case_no,
        cause=CAUSES[purpose],
        reason=reason,
        materials=missing,
        step_ids=[s.step_id for s in open_steps],
        deadline=deadline,
        notice_no=notice.notice_no,
        returned_at=at,
    )
    return [returned, notice]


def reassign(
    case: RoutedCase,
    step_id: str,
    who: Who,
    *,
    to_id: str,
    to_name: str,
    to_department: str,
    reason: str,
    at: datetime,
    rules: Rules = STRICT,
) -> list[msgspec.Struct]:
    step = _acting_on(case, step_id, who)
    if to_department != step.department:
        raise Refusal(403, f"只能改派给{step.department}的人员，{to_name}属于{to_department or '其他单位'}")
    if step.assignee_id and step.assignee_id != who.id and who.role != "supervisor":
        raise Refusal(403, f"该环节由{step.assignee_name}办理，只有本人或科室负责人可以改派")
    if to_id == step.assignee_id:
        raise Refusal(409, f"该环节已由{to_name}办理，无需改派")
    _separate(case, step, Who(to_id, to_name, to_department), rules)
    from_id, from_name = step.assignee_id, step.assignee_name
    step.assignee_id, step.assignee_name = to_id, to_name
    return [
        StepReassigned(
            case_no=case.case_no,
            step_id=step.step_id,
            step_name=step.name,
            department=step.department,
            from_id=from_id,
            from_name=from_name,
            to_id=to_id,
            to_name=to_name,
            reason=reason,
            reassigned_at=at,
        )
    ]


def start_special(
    case: RoutedCase, step_id: str, who: Who, *, kind: SpecialKind, reason: str, at: datetime, rules: Rules = STRICT
) -> list[msgspec.Struct]:
    step = _acting_on(case, step_id, who)
    if kind not in rules.special_procedures:
        allowed = "、".join(rules.special_procedures)
        if not allowed:
            raise Refusal(422, f"本事项不适用特别程序，不能启动{kind}（事项目录未列特别程序）")
        raise Refusal(422, f"本事项只适用以下特别程序：{allowed}，不能启动{kind}")
    if step.special is not None:
        raise Refusal(409, f"特别程序（{step.special.kind}）已在进行中")
    if step.waiting == "补正":
        raise Refusal(409, "该环节已退回补正，补正后才能启动特别程序")
    if not reason.strip():
        raise Refusal(422, "启动特别程序须说明理由")
    step.waiting, step.special = "特别程序", Special(kind=kind, reason=reason, started_at=at)
    track = case.track(step.track)
    basis = LICENSING_SPECIAL_BASIS if rules.item_type == "01" else ""
    text = (
        f"{case.applicant_name or '申请人'}：您申请办理的“{track.item_name}”（办件编号 {track.case_no}）"
        f"需要进行{kind}，理由：{reason.strip()}。{kind}所需时间不计算在办理期限内"
        f"{f'（{basis}）' if basis else ''}，{kind}结束后继续计算办理期限，结果将另行告知。特此告知。"
    )
    return [
        SpecialProcedureStarted(
            case_no=case.case_no,
            step_id=step.step_id,
            department=step.department,
            kind=kind,
            reason=reason,
            started_at=at,
        ),
        _notice(case, track, step, "特别程序", text, basis=basis, at=at),
    ]


def end_special(case: RoutedCase, step_id: str, who: Who, *, result: str, at: datetime) -> list[msgspec.Struct]:
    step = _acting_on(case, step_id, who)
    if step.special is None:
        raise Refusal(409, "该环节没有进行中的特别程序")
    if not result.strip():
        raise Refusal(422, "结束特别程序须填写结果")
    kind = step.special.kind
    step.waiting, step.special = "", None
    return [
        SpecialProcedureEnded(
            case_no=case.case_no,
            step_id=step.step_id,
            department=step.department,
            kind=kind,
            result=result,
            ended_at=at,
        )
    ]


def _within_cap(track: Track, extension: Limit, cap: ExtensionCap) -> None:
    """行政许可法 §42 (or the item's own law): at most ``cap.count`` extensions, each at most ``cap.limit``."""
    most = limit_text(cap.limit.value, cap.limit.unit)
    if cap.count <= 0:
        raise Refusal(422, f"本事项不得延长办理期限（{cap.basis}）")
    if len(track.extensions) >= cap.count:
        raise Refusal(
            422,
            f"本事项只能延长{cap.count}次、每次不超过{most}（{cap.basis}），已延长{len(track.extensions)}次，不能再延长",
        )
    if extension.unit != cap.limit.unit or extension.value > cap.limit.value:
        asked = limit_text(extension.value, extension.unit)
        raise Refusal(422, f"延长时限不得超过{most}（{cap.basis}），申请的{asked}超出上限")


def request_extension(
    case: RoutedCase, step_id: str, who: Who, *, extension: Limit, reason: str, at: datetime, rules: Rules = STRICT
) -> list[msgspec.Struct]:
    step = _acting_on(case, step_id, who)
    if step.extension is not None:
        raise Refusal(409, f"该环节已有待批准的延长申请（{step.extension.requested_by}提出）")
    if extension.value <= 0:
        raise Refusal(422, "延长时限须大于 0")
    _within_cap(case.track(step.track), extension, rules.cap)
    if not reason.strip():
        raise Refusal(422, "申请延长须说明理由")
    step.extension = PendingExtension(extension=extension, reason=reason, requested_by=who.name, requested_at=at)
    return [
        ExtensionRequested(
            case_no=case.case_no,
            step_id=step.step_id,
            department=step.department,
            extension=extension,
            reason=reason,
            requested_at=at,
        )
    ]


def decide_extension(
    case: RoutedCase, step_id: str, who: Who, *, approve: bool, opinion: str, at: datetime, rules: Rules = STRICT
) -> list[msgspec.Struct]:
    step = case.step(step_id)
    _department(step, who)
    if who.role != "supervisor":
        raise Refusal(403, f"延长须经{step.department}科室负责人批准，{who.name}不是科室负责人")
    _still_open(case, step)
    pending = step.extension
    if pending is None:
        raise Refusal(409, "该环节没有待批准的延长申请")
    track = case.track(step.track)
    if approve:
        _within_cap(track, pending.extension, rules.cap)
    step.extension = None
    if not approve:
        return [
            ExtensionRejected(
                case_no=case.case_no, step_id=step.step_id, department=step.department, opinion=opinion, rejected_at=at
            )
        ]
    track.extensions = [*track.extensions, pending.extension]
    length = limit_text(pending.extension.value, pending.extension.unit)
    text = (
        f"{case.applicant_name or '申请人'}：您申请办理的“{track.item_name}”（办件编号 {track.case_no}），"
        f"因{pending.reason.strip()}，不能在原定期限内办结。经{step.department}负责人批准，办理期限延长{length}"
        f"（{rules.cap.basis}）。特此告知。"
    )
    return [
        ExtensionApproved(
            case_no=case.case_no,
            step_id=step.step_id,
            department=step.department,
            clock_ids=[step.step_id, track.clock_id],
            extension=pending.extension,
            opinion=opinion,
            approved_at=at,
        ),
        _notice(case, track, step, "延长审批期限", text, basis=rules.cap.basis, at=at),
    ]


TITLES = {"延长审批期限": "延长审批期限告知书", "特别程序": "特别程序告知书", "退件": "退件通知书"}


def _notice(
    case: RoutedCase, track: Track, step: Step | None, kind: NoticeKind, text: str, *, basis: str, at: datetime
) -> ApplicantNotified:
    """书面告知 the applicant, numbered per case (``<case no>-GZ01`` …); a 退件 of a suspended case may have no
    open step: it is the item's department's."""
    case.notices += 1
    return ApplicantNotified(
        case_no=case.case_no,
        item_case_no=track.case_no,
        item_name=track.item_name,
        item_code=track.item_code,
        step_id=step.step_id if step is not None else "",
        department=step.department if step is not None else track.department,
        notice_no=f"{case.case_no}-GZ{case.notices:02d}",
        kind=kind,
        title=TITLES[kind],
        text=text,
        basis=basis,
        applicant_name=case.applicant_name,
        applicant_phone=case.applicant_phone,
        notified_at=at,
    )


def escalate(
    case: RoutedCase, step_id: str, level: str, deadline: datetime | None, at: datetime
) -> list[msgspec.Struct]:
    """A step clock's alert past 预警: signal the department's supervisor, once per step and level."""
    step = next((s for s in case.steps if s.step_id == step_id), None)
    if step is None or level == WARNING or step.status == "已办" or level in step.escalated:
        return []
    step.escalated = [*step.escalated, level]
    return [
        StepEscalated(
            case_no=case.case_no,
            step_id=step.step_id,
            step_name=step.name,
            department=step.department,
            level=level,
            deadline=deadline,
            escalated_at=at,
        )
    ]
