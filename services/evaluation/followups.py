"""The bad-review follow-up (差评整改), as a small state machine on :class:`FollowUp` (pure, no I/O).

```
差评 → 待核实 ─┬─ 申诉 → 申诉中 ─┬─ upheld by a supervisor → 无效差评
              │                 └─ rejected ───────────────┐
              └─ 整改 ─────────────────────────────────────→ 整改中 (deadline, one extension) → 整改完成 | 无法整改
```
Each step returns the words of the change (for the timeline and the desk). A real-name bad review needs a
return visit (回访): before it is ruled 无效差评, and before it is closed unless the county gives the visit a deadline
after the closing (``return_visit_limit``: then the closing starts the 回访 clock). Clocks are the caller's business:
the functions only say when one starts (:data:`CORRECTING`) or ends.

谁办理谁负责: the rated departments (every department the bad review is charged to) handle it and may appeal; an
appeal is decided by the hall's 政务服务管理机构 (``hall-supervisor``) or an operator, never by a rated department.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from services.evaluation.messages import (
    CloseCorrection,
    ExtendCorrection,
    FollowUp,
    RecordReturnVisit,
    ReviewAppeal,
    VerifyBadReview,
    Visit,
)
from shared.envelope import Actor
from shared.levels import Level
from shared.replies import Refusal

CLOSED = ("无效差评", "整改完成", "无法整改")
CORRECTING: Final = "整改中"
APPEAL_JUDGES = ("hall-supervisor", "operator")
RATED_MAY_NOT_JUDGE: Final = "被评价部门不能裁决对本部门的申诉"


def rated_departments(f: FollowUp) -> list[str]:
    return f.departments or [f.department]


def visit_pending(f: FollowUp, visits_required: bool) -> bool:
    """A real-name bad review closed without a return visit yet: its 回访 clock runs."""
    return visits_required and f.rater.real_name and f.visit is None


def _require(f: FollowUp, *statuses: str) -> None:
    if f.status not in statuses:
        raise Refusal(409, f"差评（办件 {f.case_no}）当前为“{f.status}”，不能办理此项")


def _own(f: FollowUp, actor: Actor, department: str) -> None:
    """The rated department handles its bad reviews; the hall's operators may handle any."""
    if actor.kind != "operator" and department not in rated_departments(f):
        handlers = "、".join(rated_departments(f))
        raise Refusal(403, f"该差评由{handlers}处理，{actor.name or actor.id}（{department or '无部门'}）无权办理")


def _text(value: str, what: str) -> str:
    if not value.strip():
        raise Refusal(422, f"请填写{what}")
    return value.strip()


def _needs_visit(f: FollowUp, visits_required: bool) -> None:
    if visits_required and f.rater.real_name and f.visit is None:
        raise Refusal(409, f"实名差评（办件 {f.case_no}）须先回访评价人，才能办结")


def verify(f: FollowUp, cmd: VerifyBadReview, actor: Actor, at: datetime) -> str:
    _own(f, actor, cmd.department)
    _require(f, "待核实")
    f.reply, f.replied_at, f.replied_by = _text(cmd.reply, "给评价人的回复（差评回复）"), at, actor.id
    if cmd.outcome == "申诉":
        f.appeal_reason, f.appealed_by = _text(cmd.appeal_reason, "申诉理由"), actor.id
        f.status = "申诉中"
        return f"核实后提出申诉：{f.appeal_reason}"
    f.status = CORRECTING
    return "核实后确认整改"


def review_appeal(f: FollowUp, cmd: ReviewAppeal, actor: Actor, visits_required: bool) -> str:
    if actor.kind != "operator" and cmd.department in rated_departments(f):
        raise Refusal(403, f"{RATED_MAY_NOT_JUDGE}：该差评计入{cmd.department}，申诉由政务服务管理机构裁决")
    if actor.kind not in APPEAL_JUDGES:
        raise Refusal(403, "申诉由政务服务管理机构（大厅管理人员）或运维人员裁决")
    _require(f, "申诉中")
    if actor.id == f.appealed_by:
        raise Refusal(403, "申诉人不能审核自己的申诉")
    f.appeal_opinion, f.appeal_reviewed_by = _text(cmd.opinion, "审核意见"), actor.id
    if cmd.upheld:
        _needs_visit(f, visits_required)
        f.status = "无效差评"
        return f"申诉成立，认定为无效差评：{f.appeal_opinion}"
    f.status = CORRECTING
    return f"申诉不成立，转入整改：{f.appeal_opinion}"


def extend(f: FollowUp, cmd: ExtendCorrection, actor: Actor) -> str:
    _own(f, actor, cmd.department)
    _require(f, CORRECTING)
    if f.extended:
        raise Refusal(409, "整改期限已延长过一次，不能再次延长")
    if f.overdue:
        raise Refusal(409, "整改已逾期，不能再申请延期")
    if f.deadline is None:
        raise Refusal(409, "整改期限尚未确定，请稍后再申请延期")
    f.extended, f.extension_reason = True, _text(cmd.reason, "延期理由")
    return f"整改延期一次：{f.extension_reason}"


def visit(f: FollowUp, cmd: RecordReturnVisit, actor: Actor, at: datetime) -> str:
    _own(f, actor, cmd.department)
    _require(f, "待核实", "申诉中", CORRECTING, "整改完成", "无法整改")
    if f.visit is not None:
        raise Refusal(409, "该差评已有回访记录")
    f.visit = Visit(method=cmd.method, note=_text(cmd.note, "回访情况"), by=actor.id, at=at)
    return f"{cmd.method}回访：{f.visit.note}"


def close(
    f: FollowUp, cmd: CloseCorrection, actor: Actor, at: datetime, visits_required: bool, *, visit_after: bool = False
) -> str:
    """Closes the correction; a real-name review not yet visited is refused, unless the visit may follow the closing
    (``visit_after``: the 回访 deadline counts from here)."""
    _own(f, actor, cmd.department)
    _require(f, CORRECTING)
    if cmd.outcome == "无法整改":
        f.explanation = _text(cmd.explanation, "无法整改的原因")
    else:
        f.explanation = cmd.explanation.strip()
    if not visit_after:
        _needs_visit(f, visits_required)
    f.status, f.closed_at, f.closed_by = cmd.outcome, at, actor.id
    return f"{cmd.outcome}" + (f"：{f.explanation}" if f.explanation else "")


def rate_correction(f: FollowUp, level: Level, at: datetime) -> str:
    if f.status not in ("整改完成", "无法整改"):
        raise Refusal(409, f"差评（办件 {f.case_no}）尚未整改办结，暂不能评价整改结果")
    if f.correction_level is not None:
        raise Refusal(409, "已评价过整改结果，不能重复评价")
    f.correction_level, f.correction_rated_at = level.value, at
    return f"评价人评价整改结果：{level.value}"
