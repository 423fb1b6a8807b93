"""Each case's timeline, built from every service's events: what happened, who did it, when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from services.gateway.provisional import PENDING, deadline_text, revision_text, short_text
from services.gateway.views import evaluation, external, intake, routing, timing
from shared.catalogue import unit_name
from shared.envelope import Actor, Envelope
from shared.kafka import HandlerTable, Route
from shared.localtime import local
from shared.outbox import Txn
from shared.pii import UnsealError, for_settings, mask_address
from shared.settings import HallSettings
from shared.telemetry import incoming_trace_id

# Case states in the order a case reaches them; the current state is the furthest one reached.
STATES = ("已受理", "办理中", "已办结", "已出件", "已评价")


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    event_id: str
    type: str
    state: str
    summary: str
    actor: Actor
    at: datetime
    # The trace of the record that brought the event (its traceparent header), for 查看链路; "" in entries kept
    # before it was recorded.
    trace_id: str = ""


_entry = msgspec.json.Decoder(TimelineEntry)


REFUSED = "不予受理"  # the application ends at the window (intake's CaseRefused)
RETURNED = "退件"  # a return's or a 容缺 suspension's limit passed with nothing supplied (routing's CaseReturned)


# A case's state is the highest its entries reached in this order (不予受理 and 退件 above every other): a maximum,
# so the order in which entries arrive, and a redelivered one, change nothing.
RANKED = (*STATES, RETURNED, REFUSED)
RANK = {state: rank for rank, state in enumerate(RANKED)}
NO_STATE = "处理中"


def current_state(entries: list[TimelineEntry]) -> str:
    """Derived from the timeline on every read, so it cannot drift from what happened."""
    reached = [RANK[e.state] for e in entries if e.state in RANK]
    return RANKED[max(reached)] if reached else NO_STATE


class Timeline:
    def __init__(self, settings: HallSettings) -> None:
        self.settings = settings
        self.pii = for_settings(settings)

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def table(self) -> HandlerTable:
        return {
            "CaseAccepted.v1": Route(intake.CaseAccepted, self.case_accepted),
            "StepOpened.v1": Route(routing.StepOpened, self._note("办理中", _opened)),
            "StepDecided.v1": Route(routing.StepDecided, self._note("办理中", _decided)),
            "CaseCompleted.v1": Route(
                routing.CaseCompleted,
                self._note("已办结", lambda e: f"办结，结果：{e.result}" + "".join(f"；{r}" for r in e.reasons)),
            ),
            "CaseDelivered.v1": Route(
                routing.CaseDelivered,
                self._note("已出件", self._delivered),
            ),
            **self._step_work(),
            "ClockStarted.v1": Route(timing.ClockStarted, self._note("", _clock_started)),
            "ClockStopped.v1": Route(timing.ClockStopped, self._note("", _stopped)),
            "CaseReturned.v1": Route(
                routing.CaseReturned,
                self._note(RETURNED, lambda e: f"退件：{e.reason}（退件通知书 {e.notice_no}）"),
            ),
            # Old records only (timing now computes every clock): their reason is for operators, not applicants.
            "ClockRefused.v1": Route(timing.ClockRefused, self._note("", lambda e: f"{_clock(e.purpose)}{PENDING}")),
            "DeadlineRevised.v1": Route(timing.DeadlineRevised, self._note("", _revised)),
            **self._clock_moves(),
            "RatingRecorded.v1": Route(evaluation.RatingRecorded, self.rating_recorded),
            "FollowUpChanged.v1": Route(evaluation.FollowUpChanged, self._note("", lambda e: f"差评整改：{e.change}")),
            # intake: 不予受理, 容缺 materials brought, a case suspended for a missed 补齐 deadline
            "CaseRefused.v1": Route(intake.CaseRefused, self.case_refused),
            "MaterialsSupplemented.v1": Route(intake.MaterialsSupplemented, self._note("", _supplemented)),
            "CaseSuspended.v1": Route(
                intake.CaseSuspended, self._note("", lambda e: f"中止办理：{e.reason}。已告知申请人：{e.notice}")
            ),
        }

    def _clock_moves(self) -> HandlerTable:
        """Timing's pauses, extensions and alerts on the case's clocks (its own, a child's, a step's …)."""
        return {
            "ClockPaused.v1": Route(
                timing.ClockPaused, self._note("", lambda e: f"{_clock(e.purpose)}暂停计时：{e.reason}")
            ),
            "ClockResumed.v1": Route(
                timing.ClockResumed,
                self._note("", lambda e: f"{_clock(e.purpose)}恢复计时，期限顺延至 {_short(e)}"),
            ),
            "ClockExtended.v1": Route(
                timing.ClockExtended,
                self._note(
                    "",
                    lambda e: (
                        f"{_clock(e.purpose)}延长 {e.limit.value:g} {unit_name(e.limit.unit)}，期限至 {_short(e)}"
                    ),
                ),
            ),
            "ClockAlerted.v1": Route(
                timing.ClockAlerted,
                self._note("", lambda e: f"{_clock(e.purpose)}{e.level}（期限 {local(e.deadline)}）"),
            ),
        }

    def _step_work(self) -> HandlerTable:
        """Routing's step work, bundle children and 跨省通办, each a line of the case's timeline."""
        work = "办理中"
        return {
            "StepClaimed.v1": Route(
                routing.StepClaimed, self._note(work, lambda e: f"{e.assignee_name}认领{e.department}{e.step_name}环节")
            ),
            "StepReassigned.v1": Route(
                routing.StepReassigned,
                self._note(
                    work, lambda e: f"{e.department}{e.step_name}环节由{e.from_name or '待认领'}改派给{e.to_name}"
                ),
            ),
            "StepResumed.v1": Route(
                routing.StepResumed, self._note(work, lambda e: f"{e.department}{e.step_name}环节恢复办理：{e.reason}")
            ),
            "SpecialProcedureStarted.v1": Route(
                routing.SpecialProcedureStarted,
                self._note(work, lambda e: f"{e.department}启动特别程序（{e.kind}），暂停计时：{e.reason}"),
            ),
            "SpecialProcedureEnded.v1": Route(
                routing.SpecialProcedureEnded,
                self._note(work, lambda e: f"{e.department}特别程序（{e.kind}）结束：{e.result}"),
            ),
            "ExtensionRequested.v1": Route(
                routing.ExtensionRequested,
                self._note(
                    work, lambda e: f"{e.department}申请延长 {e.extension.value:g} {e.extension.unit}：{e.reason}"
                ),
            ),
            "ExtensionApproved.v1": Route(
                routing.ExtensionApproved,
                self._note(work, lambda e: f"{e.department}负责人批准延长 {e.extension.value:g} {e.extension.unit}"),
            ),
            "ExtensionRejected.v1": Route(
                routing.ExtensionRejected, self._note(work, lambda e: f"{e.department}负责人不批准延长：{e.opinion}")
            ),
            "StepEscalated.v1": Route(
                routing.StepEscalated,
                self._note("", lambda e: f"{e.department}{e.step_name}环节{e.level}，已报科室负责人督办"),
            ),
            "ChildCompleted.v1": Route(
                routing.ChildCompleted,
                self._note(
                    work,
                    lambda e: (
                        f"子件 {e.child_case_no}（{e.item_name}，{e.department}）"
                        + (f"不予办理：{e.reason}" if e.closed_by else f"办结：{e.result}")
                        + (f"（{e.reason}）" if e.reason and not e.closed_by else "")
                        + (f"，{e.licence_name} {e.licence_no}".rstrip() if e.licence_name else "")
                    ),
                ),
            ),
            "StepsClosed.v1": Route(
                routing.StepsClosed, self._note(work, lambda e: f"{len(e.step_ids)} 个未办结环节终止：{e.reason}")
            ),
            "HandedOver.v1": Route(
                routing.HandedOver, self._note(work, lambda e: f"跨省通办：移交{e.jurisdiction}办理")
            ),
            "HandoverReceived.v1": Route(
                external.HandoverReceived,
                self._note(work, lambda e: f"{e.jurisdiction}已接收（对方编号 {e.external_case_no}）"),
            ),
            "ExternalResult.v1": Route(
                external.ExternalResult,
                self._note(
                    work, lambda e: f"{e.jurisdiction}办理结果：{e.result}" + (f"（{e.opinion}）" if e.opinion else "")
                ),
            ),
        }

    def _delivered(self, e: routing.CaseDelivered) -> str:
        """The postal address only masked: the timeline is shown to the applicant's devices too."""
        try:
            address = mask_address(self.pii.unseal(e.address))
        except UnsealError:
            address = mask_address(e.address)
        return f"统一窗口出件（{e.method}{'：' + address if address else ''}）"

    def _record(self, txn: Txn, env: Envelope, state: str, summary: str) -> None:
        entry = TimelineEntry(
            event_id=env.event_id,
            type=env.type,
            state=state,
            summary=summary,
            actor=env.actor,
            at=env.occurred_at,
            trace_id=incoming_trace_id(),
        )
        key, value = self.key("timeline", env.case_id), msgspec.json.encode(entry)
        txn.write(lambda pipe: pipe.hset(key, env.event_id, value))
        if state in RANK:  # the case's state, kept as the highest rank reached (ZADD GT: a maximum)
            txn.write(lambda pipe: pipe.zadd(self.key("state-rank"), {env.case_id: RANK[state]}, gt=True))

    def _note(self, state: str, summary: Callable[[Any], str]) -> Callable[[Envelope, Any, Txn], Any]:
        async def handle(env: Envelope, event: Any, txn: Txn) -> None:
            self._record(txn, env, state, summary(event))

        return handle

    async def rating_recorded(self, env: Envelope, event: evaluation.RatingRecorded, txn: Txn) -> None:
        """The first rating of the delivered service (or of the whole case) makes the case 已评价; one of 受理 not."""
        state = "已评价" if event.stage in ("", "办结", "整体") and event.kind == "首评" else ""
        kind = "系统默认评价" if event.default else ("追评" if event.kind == "追评" else "评价")
        stage = f"（{event.stage}）" if event.stage else ""
        self._record(txn, env, state, f"{kind}{stage}：{event.level}（{event.channel}）")

    async def case_accepted(self, env: Envelope, event: intake.CaseAccepted, txn: Txn) -> None:
        self._record(txn, env, "已受理", f"受理“{event.item_name}”，办件编号 {event.case_no}")
        txn.set(self.key("caseno", event.case_no), env.case_id)

    async def case_refused(self, env: Envelope, event: intake.CaseRefused, txn: Txn) -> None:
        self._record(txn, env, REFUSED, f"不予受理“{event.item_name}”，办件编号 {event.case_no}：{event.reason}")
        txn.set(self.key("caseno", event.case_no), env.case_id)

    async def case_id(self, redis: Redis, case_no: str) -> str | None:
        raw = cast("bytes | None", await redis.get(self.key("caseno", case_no)))
        return raw.decode() if raw else None

    async def entries(self, redis: Redis, case_id: str) -> list[TimelineEntry]:
        raw = cast("dict[bytes, bytes]", await redis.hgetall(self.key("timeline", case_id)))
        return _ordered(raw)

    async def states(self, redis: Redis, case_ids: list[str]) -> dict[str, str]:
        """The current state of each of a page of cases: one ZMSCORE of the ranks the timeline keeps. A case without
        a rank (recorded before the ranks were kept) is derived from its timeline once, and its rank kept."""
        if not case_ids:
            return {}
        ranks = await redis.zmscore(self.key("state-rank"), case_ids)
        found = {case_id: RANKED[int(rank)] for case_id, rank in zip(case_ids, ranks, strict=True) if rank is not None}
        missing = [case_id for case_id in case_ids if case_id not in found]
        if missing:
            async with redis.pipeline(transaction=False) as pipe:
                for case_id in missing:
                    pipe.hgetall(self.key("timeline", case_id))
                raws = cast("list[dict[bytes, bytes]]", await pipe.execute())
            derived = {case_id: current_state(_ordered(raw)) for case_id, raw in zip(missing, raws, strict=True)}
            kept = {case_id: RANK[state] for case_id, state in derived.items() if state in RANK}
            if kept:
                await redis.zadd(self.key("state-rank"), kept, gt=True)
            found.update(derived)
        return {case_id: found[case_id] for case_id in case_ids}


def _ordered(raw: dict[bytes, bytes]) -> list[TimelineEntry]:
    return sorted((_neutral(_entry.decode(v)) for v in raw.values()), key=lambda e: e.at)


def _neutral(entry: TimelineEntry) -> TimelineEntry:
    """An entry recorded from an old ClockRefused said the operator's reason (a command to run): not for citizens."""
    if entry.type == "ClockRefused.v1" and not entry.summary.endswith(PENDING):
        return msgspec.structs.replace(entry, summary=f"期限{PENDING}")
    return entry


def _supplemented(e: intake.MaterialsSupplemented) -> str:
    brought = "、".join(m.name for m in e.materials)
    if e.complete:
        return f"补齐材料：{brought}；容缺材料已全部补齐"
    return f"补齐材料：{brought}；仍待补齐：{'、'.join(m.name for m in e.remaining)}"


_CLOCKS = {
    "办件": "办件时限",
    "子件": "子件时限",
    "环节": "环节时限",
    "补齐": "容缺补齐时限",
    "退回补正": "退回补正期限",
    "容缺中止": "容缺中止后补齐期限",
}


def _clock(purpose: str) -> str:
    return _CLOCKS.get(purpose, f"{purpose}时限")


_LIMITS = {
    "补齐": "容缺材料补齐期限",
    "退回补正": "退回补正期限（期满未补正的退件）",
    "容缺中止": "容缺中止后补齐期限（期满仍未补齐的退件）",
}


def _clock_started(e: timing.ClockStarted) -> str:
    # Evaluation's clocks (the rating window, a bad review's correction) are not the case's promised deadline.
    deadline = deadline_text(e.promised_deadline, e.provisional)
    if e.purpose == "评价期":
        return f"评价期开始，{deadline} 前可评价"
    if e.purpose in ("整改", "回访"):
        return f"差评{e.purpose}计时，{e.purpose}期限 {deadline}"
    if e.purpose == "环节":
        return f"环节开始计时，环节期限 {deadline}"
    if e.purpose == "子件":
        return f"子件 {e.case_no} 开始计时，承诺办结时间 {deadline}"
    if e.purpose in _LIMITS:
        return f"{_LIMITS[e.purpose]} {deadline}"
    return f"开始计时，承诺办结时间 {deadline}"


def _stopped(e: timing.ClockStopped) -> str:
    if e.outcome == RETURNED:
        return f"{_clock(e.purpose)}停止计时：退件（不计入超期）"
    if e.purpose in ("退回补正", "容缺中止"):
        return f"{_clock(e.purpose)}停止计时：{e.reason or '已补正'}"
    return "停止计时，" + ("按时办结" if e.on_time else "超期办结")


def _short(e: timing.ClockResumed | timing.ClockExtended) -> str:
    return short_text(e.promised_deadline, e.provisional)


_REVISED = {"办件": "", "环节": "环节", "补齐": "容缺补齐", "评价期": "评价期", "整改": "差评整改", "回访": "差评回访"}


def _revised(e: timing.DeadlineRevised) -> str:
    """``期限更正：2027-01-04 17:30 → 2027-01-06 17:30（2027 年放假安排已公布，按正式安排重新计算）``."""
    which = f"子件 {e.case_no} " if e.purpose == "子件" else _REVISED.get(e.purpose, e.purpose)
    text = revision_text(
        e.old_promised_deadline, e.promised_deadline, e.year, provisional=e.provisional, retracted=e.retracted
    )
    return which + text


def _decided(event: routing.StepDecided) -> str:
    if event.action == "退回":
        return f"{event.department}{event.step_name}：退回补正（{'、'.join(event.materials)}；{event.opinion}）"
    issued = ""
    if event.licence_name:  # 决定 准予: the licence, its number and validity
        issued = f"，颁发{event.licence_name}" + (f" {event.licence_no}" if event.licence_no else "")
        issued += f"（有效期 {event.validity}）" if event.validity else ""
    return f"{event.department}{event.step_name}：{event.action}（{event.opinion}）{issued}"


def _opened(event: routing.StepOpened) -> str:
    child = event.item_case_no and event.item_case_no != event.case_no
    text = f"{event.department}{event.step_name}环节开始" + (
        f"（子件 {event.item_case_no} {event.item_name}）" if child else ""
    )
    if event.prerequisites and event.seq == 1:  # 前后置: the dependent opens with its prerequisites' results
        got = "、".join(
            p.item_name + (f"（{p.licence_name} {p.licence_no}）".replace(" ）", "）") if p.licence_name else "")
            for p in event.prerequisites
        )
        text += f"，前置事项已准予：{got}"
    return text
