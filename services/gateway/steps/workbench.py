"""The departments' workbench: every step as a GB/T 39046 表7 record, each department's inbox of open steps,
its audit trail, its step clock (from timing) and the escalations its supervisor must see.

Keys (the gateway's own): ``step:{id}`` the step, ``steplog:{id}`` its records by event id, ``inbox:{dept}``
open step ids, ``wbclock:{step}`` the limit of its latest return (退回补正), ``escalations:{dept}``. A step's clock
(deadline, warning time, pause, 暂定 years, the alerts of its current deadline) is read from the SLA board's one
projection of timing's clocks (``board.clock_key``), kept apart from the step, so timing's events may come before
or after routing's. The pages of the inbox
are read from sorted sets scored by the step's opening time (services/gateway/paging.py): ``inboxz:{dept}`` the
open steps, ``mysteps:{dept}:{user}`` those assigned to one person, ``inboxext:{dept}`` those with an extension
waiting for the supervisor; ``escalationz:{dept}`` the escalations by time. A ``DeadlineRevised``
adds a line to the step's audit trail (the board moves the deadline and withdraws the alert levels it retracts).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import msgspec
from redis.asyncio import Redis

from services.gateway.paging import Slice, ensure_index, zpage
from services.gateway.provisional import revision_text
from services.gateway.sla import board
from services.gateway.sla.calendar import HallCalendars
from services.gateway.steps.sla import colour, colour_of
from services.gateway.views import intake, routing, timing
from shared.catalogue import UNITS
from shared.clock import SYSTEM_CLOCK, Clock
from shared.envelope import Actor, Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn, Write
from shared.settings import HallSettings
from shared.sla import WorkingTime

E = TypeVar("E", bound=msgspec.Struct)
RETURN = "退回补正"  # the purpose of timing's clock on a return's limit


class PendingExtension(msgspec.Struct, kw_only=True):
    value: float
    unit: str
    reason: str
    requested_by: str
    requested_at: datetime


class WorkStep(msgspec.Struct, kw_only=True):
    step_id: str
    case_id: str
    case_no: str
    item_case_no: str = ""  # records stored before 2026-11-26 lack it: the case's own number (set below)
    item_code: str = ""  # the item (or bundle child's item) whose catalogue entry rules the step
    item_name: str
    step_name: str
    seq: int
    stage: int
    department: str
    point: str = ""
    limit: intake.Limit | None = None
    opened_at: datetime
    status: str = "待办"  # 待办 / 已办
    waiting: str = ""  # "" / 补正 / 特别程序
    assignee_id: str = ""
    assignee_name: str = ""
    action: str = ""  # the last 业务动作: 通过 / 退回 / 不予许可
    opinion: str = ""
    handler: str = ""
    decided_at: datetime | None = None
    materials: list[str] = []  # what the applicant must supplement (退回)
    return_opinion: str = ""
    special: str = ""
    special_reason: str = ""
    special_since: datetime | None = None
    extension: PendingExtension | None = None
    escalations: list[str] = []
    countersign: bool = False  # 会签: a co-department's step, joined with the lead's 审核 before 决定
    prerequisites: list[routing.Prerequisite] = []  # 前后置: the granted results this child needed

    def __post_init__(self) -> None:
        if not self.item_case_no:
            self.item_case_no = self.case_no

    @property
    def business_action(self) -> str:
        """表7 业务动作: 通过 / 退回 / 其他."""
        return self.action if self.action in ("通过", "退回") else ("其他" if self.action else "")


class StepView(WorkStep, kw_only=True):
    """A step as staff see it: with its due time and SLA colour, derived now."""

    due: datetime | None = None
    warning_at: datetime | None = None  # timing's 预警 time for the step's clock, where known
    provisional: bool = False  # 暂定: the due time rests on a year without an official holiday schedule
    provisional_years: list[int] = []
    paused: bool = False
    alerts: list[str] = []
    sla: str = ""
    # An open step's working time left by the hall's calendar, as the SLA board reckons it: "剩余 1.5 个工作日" /
    # "已超期 0.5 个工作日" ("" until timing started the step's clock).
    remaining: str = ""
    remaining_days: float | None = None


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the audit trail: what was done, by whom, when."""

    event_id: str
    action: str
    summary: str
    actor: Actor
    at: datetime


class Escalation(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    step_id: str
    step_name: str
    level: str
    deadline: datetime | None
    escalated_at: datetime


_step = msgspec.json.Decoder(WorkStep)
_record = msgspec.json.Decoder(Record)
_escalation = msgspec.json.Decoder(Escalation)


def _opened(step: WorkStep) -> tuple[datetime, str]:
    """An inbox's order: oldest opened first."""
    return step.opened_at, step.step_id


def _limit(limit: intake.Limit) -> str:
    return f"{limit.value:g} {UNITS.get(limit.unit, limit.unit)}"


class Workbench:
    def __init__(self, settings: HallSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SYSTEM_CLOCK
        self.calendars = HallCalendars()

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def table(self) -> HandlerTable:
        return {
            "StepOpened.v1": Route(routing.StepOpened, self.step_opened),
            "StepClaimed.v1": Route(routing.StepClaimed, self._change("认领", _claimed)),
            "StepReassigned.v1": Route(routing.StepReassigned, self._change("改派", _reassigned)),
            "StepDecided.v1": Route(routing.StepDecided, self._change("", _decided)),
            "StepResumed.v1": Route(routing.StepResumed, self._change("恢复办理", _resumed)),
            "SpecialProcedureStarted.v1": Route(routing.SpecialProcedureStarted, self._change("特别程序", _special)),
            "SpecialProcedureEnded.v1": Route(routing.SpecialProcedureEnded, self._change("特别程序结束", _ended)),
            "ExtensionRequested.v1": Route(routing.ExtensionRequested, self._change("申请延长", _requested)),
            "ExtensionApproved.v1": Route(routing.ExtensionApproved, self._change("批准延长", _approved)),
            "ExtensionRejected.v1": Route(routing.ExtensionRejected, self._change("不批准延长", _rejected)),
            "StepEscalated.v1": Route(routing.StepEscalated, self.step_escalated),
            "CaseReturned.v1": Route(routing.CaseReturned, self.case_returned),
            "StepsClosed.v1": Route(routing.StepsClosed, self.steps_closed),
            "ClockStarted.v1": Route(timing.ClockStarted, self.clock_started),
            "DeadlineRevised.v1": Route(timing.DeadlineRevised, self.deadline_revised),
        }

    # ------------------------------------------------------------ routing's step events

    async def step_opened(self, env: Envelope, event: routing.StepOpened, txn: Txn) -> None:
        step = WorkStep(
            step_id=event.step_id,
            case_id=env.case_id,
            case_no=event.case_no,
            item_case_no=event.item_case_no or event.case_no,
            item_code=event.item_code,
            item_name=event.item_name,
            step_name=event.step_name,
            seq=event.seq,
            stage=event.stage,
            department=event.department,
            point=event.point,
            limit=event.limit,
            opened_at=event.opened_at,
            countersign=event.countersign,
            prerequisites=list(event.prerequisites),
        )
        self._save(txn, step)
        limit = f"，时限 {_limit(event.limit)}" if event.limit else ""
        via = f"（{event.point} 受理，转本部门审批）" if event.point else ""
        self._log(txn, env, step.step_id, "开始", f"{event.department}{event.step_name}环节开始{limit}{via}")
        case_steps, step_id = self.key("casesteps", env.case_id), step.step_id
        txn.write(lambda pipe: pipe.sadd(case_steps, step_id))

    def _change(self, action: str, apply: Callable[[WorkStep, Any, Actor], str]) -> Callable[[Envelope, Any, Txn], Any]:
        """A routing event that changes an opened step and adds a line to its audit trail."""

        async def handle(env: Envelope, event: Any, txn: Txn) -> None:
            raw = await txn.get(self.key("step", event.step_id))
            if raw is None:
                return  # same topic and key as its StepOpened, so only for a step never opened
            step = _step.decode(raw)
            was = step.assignee_id
            summary = apply(step, event, env.actor)
            self._save(txn, step, was)
            self._log(txn, env, step.step_id, action or event.action, summary)

        return handle

    async def step_escalated(self, env: Envelope, event: routing.StepEscalated, txn: Txn) -> None:
        await self._change("督办", _escalated)(env, event, txn)
        found = Escalation(
            case_no=event.case_no,
            step_id=event.step_id,
            step_name=event.step_name,
            level=event.level,
            deadline=event.deadline,
            escalated_at=event.escalated_at,
        )
        key, field, value = self.key("escalations", event.department), f"{event.step_id}|{event.level}", found
        txn.write(lambda pipe: pipe.hset(key, field, msgspec.json.encode(value)))
        by_time, score = self.key("escalationz", event.department), event.escalated_at.timestamp()
        txn.write(lambda pipe: pipe.zadd(by_time, {field: score}))

    async def case_returned(self, env: Envelope, event: routing.CaseReturned, txn: Txn) -> None:
        """退件: the case's open steps leave their inboxes, each with a line in its audit trail."""
        for step_id in event.step_ids:
            raw = await txn.get(self.key("step", step_id))
            if raw is None:
                continue
            step = _step.decode(raw)
            step.status, step.waiting, step.action, step.decided_at = "已办", "", "退件", event.returned_at
            self._save(txn, step)
            self._log(txn, env, step_id, "退件", f"退件：{event.reason}（退件通知书 {event.notice_no}）")

    async def steps_closed(self, env: Envelope, event: routing.StepsClosed, txn: Txn) -> None:
        """会签: the item was refused on the other side; these steps leave their inboxes unhandled."""
        for step_id in event.step_ids:
            raw = await txn.get(self.key("step", step_id))
            if raw is None:
                continue
            step = _step.decode(raw)
            step.status, step.waiting, step.action, step.decided_at = "已办", "", "终止", event.closed_at
            self._save(txn, step)
            self._log(txn, env, step_id, "终止", f"本环节终止：{event.reason}")

    def _save(self, txn: Txn, step: WorkStep, was: str = "") -> None:
        """The step, and its place in its department's lists (open, someone's, with an extension waiting)."""
        txn.set(self.key("step", step.step_id), step)
        inbox, step_id, still_open = self.key("inbox", step.department), step.step_id, step.status == "待办"
        txn.write(lambda pipe: pipe.sadd(inbox, step_id) if still_open else pipe.srem(inbox, step_id))
        for write in self.index_writes(step, was):
            txn.write(write)

    def index_writes(self, step: WorkStep, was: str = "") -> list[Write]:
        """The sorted-set writes that keep the step's place in the inbox's pages (``was``: its former assignee)."""
        step_id, score, still_open = step.step_id, step.opened_at.timestamp(), step.status == "待办"
        writes: list[Write] = []

        def place(key: str, present: bool) -> Write:
            return lambda pipe: pipe.zadd(key, {step_id: score}) if present else pipe.zrem(key, step_id)

        writes.append(place(self.key("inboxz", step.department), still_open))
        writes.append(place(self.key("inboxext", step.department), still_open and step.extension is not None))
        if was and was != step.assignee_id:
            writes.append(place(self.key("mysteps", step.department, was), False))
        if step.assignee_id:
            writes.append(place(self.key("mysteps", step.department, step.assignee_id), still_open))
        return writes

    def _log(self, txn: Txn, env: Envelope, step_id: str, action: str, summary: str) -> None:
        record = Record(event_id=env.event_id, action=action, summary=summary, actor=env.actor, at=env.occurred_at)
        key, value = self.key("steplog", step_id), msgspec.json.encode(record)
        txn.write(lambda pipe: pipe.hset(key, env.event_id, value))

    # ------------------------------------------------------------ timing's events on step clocks

    # Only step clocks (timing names their step) are the workbench's; a case's or a rating's clock is not.

    async def clock_started(self, env: Envelope, event: timing.ClockStarted, txn: Txn) -> None:  # noqa: ARG002
        if event.purpose == RETURN and ":" in event.clock_id:
            # The return's limit (routing names its clock ``<step id>:退回补正:<time>``): the 补正通知书 states it.
            key, due = self.key("wbclock", event.clock_id.split(":", 1)[0]), event.promised_deadline.isoformat()
            txn.write(lambda pipe: pipe.hset(key, "return_deadline", due))

    async def deadline_revised(self, env: Envelope, event: timing.DeadlineRevised, txn: Txn) -> None:
        """The official holiday schedule moved the step's due time: a line in the trail (the board keeps the times)."""
        if not event.step_id:
            return
        summary = revision_text(
            event.old_promised_deadline,
            event.promised_deadline,
            event.year,
            provisional=event.provisional,
            retracted=event.retracted,
        )
        if event.status_before != event.status_after:
            summary += f"；时限状态由{event.status_before}更正为{event.status_after}"
        self._log(txn, env, event.step_id, "期限更正", summary)

    # ------------------------------------------------------------ reads

    async def step(self, redis: Redis, step_id: str) -> WorkStep | None:
        raw = cast("bytes | None", await redis.get(self.key("step", step_id)))
        return _step.decode(raw) if raw else None

    async def view(self, redis: Redis, step: WorkStep, now: datetime | None = None) -> StepView:
        (found,) = await self._with_clocks(redis, [step], now or self.clock.now())
        return found

    async def _with_clocks(self, redis: Redis, steps: list[WorkStep], at: datetime) -> list[StepView]:
        """The steps as staff see them, their clocks' facts (the board's entries) and the calendar in one round trip."""
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(board.calendar_key(self.settings))
            pipe.mget([board.clock_key(self.settings, step.step_id) for step in steps])
            plans, entries = await pipe.execute()
        calendar_of = self.calendars.of(cast("dict[bytes, bytes]", plans))
        return [
            self._view(step, board.entry_of(raw), at, calendar_of)
            for step, raw in zip(steps, cast("list[bytes | None]", entries), strict=True)
        ]

    @staticmethod
    def _view(
        step: WorkStep, entry: board.Entry | None, at: datetime, calendar_of: Callable[[str], WorkingTime]
    ) -> StepView:
        """The step with its clock (None until timing's ClockStarted reached the board): due time, pause, the alerts
        of the current deadline, and for an open step its SLA colour and working time left (the board's rule)."""
        paused = bool(step.waiting) or (entry is not None and entry.paused_at is not None)
        sla, remaining, remaining_days = "", "", None
        if step.status == "待办":  # the one rule (shared/sla.py) over the board's facts of the step clock
            shown = board.row(entry, at, calendar_of(entry.hall)) if entry is not None else None
            fallback = lambda: colour(None, paused, [], at)  # noqa: E731
            sla = colour_of(entry, at, waiting=bool(step.waiting), fallback=fallback, row=shown)
            if shown is not None:
                remaining, remaining_days = shown.remaining, shown.remaining_days
        return StepView(
            **msgspec.structs.asdict(step),
            due=entry.deadline if entry else None,
            warning_at=entry.warning_at if entry else None,
            provisional=entry.provisional if entry else False,
            provisional_years=entry.provisional_years if entry else [],
            paused=paused,
            alerts=board.current_alerts(entry) if entry else [],
            sla=sla,
            remaining=remaining,
            remaining_days=remaining_days,
        )

    async def open_steps(self, redis: Redis, department: str) -> list[StepView]:
        """Every open step of the department (tests and small departments; pages use ``inbox_page``)."""
        ids = cast("set[bytes]", await redis.smembers(self.key("inbox", department)))
        return await self._views(redis, [i.decode() for i in ids])

    async def inbox_page(
        self,
        redis: Redis,
        department: str,
        limit: int,
        cursor: str = "",
        *,
        assignee: str = "",
        extensions: bool = False,
    ) -> tuple[list[StepView], Slice]:
        """A page of the department's open steps, oldest opened first: all, one person's (``assignee``) or those
        with an extension waiting; O(log n + limit) from the sorted sets the projection keeps."""
        await self.ensure_indexes(redis, department)
        if assignee:
            key = self.key("mysteps", department, assignee)
        else:
            key = self.key("inboxext" if extensions else "inboxz", department)
        found = await zpage(redis, key, limit, cursor)
        return await self._views(redis, found.ids), found

    async def ensure_indexes(self, redis: Redis, department: str) -> None:
        """A namespace kept before the sorted sets existed: build the department's once from its open steps."""

        async def build() -> None:
            ids = [i.decode() for i in cast("set[bytes]", await redis.smembers(self.key("inbox", department)))]
            raws = cast("list[bytes | None]", await redis.mget([self.key("step", i) for i in ids])) if ids else []
            async with redis.pipeline(transaction=False) as pipe:
                for raw in raws:
                    if raw is not None:
                        for write in self.index_writes(_step.decode(raw)):
                            write(pipe)
                await pipe.execute()

        await ensure_index(redis, self.key("built-index", "inbox", department), build)

    async def case_steps(self, redis: Redis, case_id: str) -> list[StepView]:
        ids = cast("set[bytes]", await redis.smembers(self.key("casesteps", case_id)))
        return await self._views(redis, [i.decode() for i in ids])

    async def _views(self, redis: Redis, ids: list[str]) -> list[StepView]:
        """The steps' views in one round trip (the steps, their clocks by the same ids, the calendar), whatever the
        page's size."""
        if not ids:
            return []
        async with redis.pipeline(transaction=False) as pipe:
            pipe.mget([self.key("step", i) for i in ids])
            pipe.hgetall(board.calendar_key(self.settings))
            pipe.mget([board.clock_key(self.settings, i) for i in ids])
            raws, plans, entries = await pipe.execute()
        clocks = dict(zip(ids, cast("list[bytes | None]", entries), strict=True))
        found = sorted((_step.decode(r) for r in cast("list[bytes | None]", raws) if r), key=_opened)
        calendar_of, at = self.calendars.of(cast("dict[bytes, bytes]", plans)), self.clock.now()
        return [self._view(step, board.entry_of(clocks.get(step.step_id)), at, calendar_of) for step in found]

    async def return_deadline(self, redis: Redis, step_id: str) -> datetime | None:
        """The limit of the step's latest return (退回补正), once timing has computed it."""
        return _moment(cast("bytes | None", await redis.hget(self.key("wbclock", step_id), "return_deadline")))

    async def records(self, redis: Redis, step_id: str) -> list[Record]:
        raw = cast("dict[bytes, bytes]", await redis.hgetall(self.key("steplog", step_id)))
        return sorted((_record.decode(v) for v in raw.values()), key=lambda r: r.at)

    async def escalations_page(
        self, redis: Redis, department: str, limit: int, cursor: str = ""
    ) -> tuple[list[Escalation], Slice]:
        """A page of the department's escalations, the latest first (``escalationz:{dept}``, never a scan)."""

        async def build() -> None:
            for found in await self.escalations(redis, department):
                field = f"{found.step_id}|{found.level}"
                await redis.zadd(self.key("escalationz", department), {field: found.escalated_at.timestamp()})

        await ensure_index(redis, self.key("built-index", "escalations", department), build)
        page = await zpage(redis, self.key("escalationz", department), limit, cursor, newest_first=True)
        if not page.ids:
            return [], page
        raws = cast("list[bytes | None]", await redis.hmget(self.key("escalations", department), page.ids))
        return [_escalation.decode(r) for r in raws if r is not None], page

    async def escalations(self, redis: Redis, department: str) -> list[Escalation]:
        raw = cast("dict[bytes, bytes]", await redis.hgetall(self.key("escalations", department)))
        return sorted((_escalation.decode(v) for v in raw.values()), key=lambda e: e.escalated_at, reverse=True)


def _moment(raw: bytes | None) -> datetime | None:
    return datetime.fromisoformat(raw.decode()) if raw else None


# ---------------------------------------------------------------- how each routing event changes a step


def _claimed(step: WorkStep, event: routing.StepClaimed, _actor: Actor) -> str:
    step.assignee_id, step.assignee_name = event.assignee_id, event.assignee_name
    return f"{event.assignee_name}认领{step.step_name}环节"


def _reassigned(step: WorkStep, event: routing.StepReassigned, _actor: Actor) -> str:
    step.assignee_id, step.assignee_name = event.to_id, event.to_name
    reason = f"（{event.reason}）" if event.reason else ""
    return f"由{event.from_name or '待认领'}改派给{event.to_name}{reason}"


def _decided(step: WorkStep, event: routing.StepDecided, actor: Actor) -> str:
    step.action, step.opinion = event.action, event.opinion
    if event.action == "退回":
        step.waiting, step.materials, step.return_opinion = "补正", list(event.materials), event.opinion
        return f"退回补正：{'、'.join(event.materials)}（{event.opinion}）"
    step.status, step.decided_at, step.handler = "已办", event.decided_at, actor.name or actor.id
    return f"{step.step_name}：{event.action}（{event.opinion}）"


def _resumed(step: WorkStep, event: routing.StepResumed, _actor: Actor) -> str:
    step.waiting = ""
    return f"恢复办理：{event.reason}"


def _special(step: WorkStep, event: routing.SpecialProcedureStarted, _actor: Actor) -> str:
    step.waiting, step.special, step.special_reason, step.special_since = (
        "特别程序",
        event.kind,
        event.reason,
        event.started_at,
    )
    return f"启动特别程序（{event.kind}）：{event.reason}"


def _ended(step: WorkStep, event: routing.SpecialProcedureEnded, _actor: Actor) -> str:
    step.waiting, step.special, step.special_reason, step.special_since = "", "", "", None
    return f"特别程序（{event.kind}）结束：{event.result}"


def _requested(step: WorkStep, event: routing.ExtensionRequested, actor: Actor) -> str:
    step.extension = PendingExtension(
        value=event.extension.value,
        unit=event.extension.unit,
        reason=event.reason,
        requested_by=actor.name or actor.id,
        requested_at=event.requested_at,
    )
    return f"申请延长 {_limit(event.extension)}：{event.reason}"


def _approved(step: WorkStep, event: routing.ExtensionApproved, _actor: Actor) -> str:
    step.extension = None
    return f"批准延长 {_limit(event.extension)}" + (f"（{event.opinion}）" if event.opinion else "")


def _rejected(step: WorkStep, event: routing.ExtensionRejected, _actor: Actor) -> str:
    step.extension = None
    return "不批准延长" + (f"（{event.opinion}）" if event.opinion else "")


def _escalated(step: WorkStep, event: routing.StepEscalated, _actor: Actor) -> str:
    if event.level not in step.escalations:
        step.escalations = [*step.escalations, event.level]
    return f"{step.step_name}环节{event.level}，已报科室负责人督办"
