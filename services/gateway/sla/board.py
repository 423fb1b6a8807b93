"""The operators' SLA board: every clock timing runs, kept from ``timing.events``, and the board derived from them.

A clock's status (正常 / 预警 / 逾期) is derived on every read from its deadline, its warning moment, whether it
is paused, and the alerts timing raised for its current deadline — never stored. Completed case clocks count
towards the on-time completion rate of their day.

A deadline resting on a year without an official holiday schedule is 暂定 (provisional); the board names those
years in a banner until the year's schedule is loaded (``CalendarLoaded``) or a clock's deadline is revised for
it (``DeadlineRevised``). A revision moves the clock's times, withdraws the alert levels it retracts and leaves a
更正 note on the row ("原 预警，按正式放假安排更正为 正常"), so the change of colour is never silent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Literal, cast

import msgspec
from redis.asyncio import Redis

from services.gateway.provisional import banner as provisional_banner
from services.gateway.provisional import status_correction
from services.gateway.views import timing
from shared.clock import SYSTEM_CLOCK, Clock
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.localtime import LOCAL
from shared.outbox import Txn
from shared.settings import HallSettings

Status = Literal["正常", "预警", "逾期"]
NORMAL: Status = "正常"
WARNING: Status = "预警"
OVERDUE: Status = "逾期"
CASE_PURPOSES = ("办件", "子件")
BADGES = {NORMAL: "badge-ok", WARNING: "badge-warn", OVERDUE: "badge-late"}
PURPOSES = ("办件", "环节", "补齐", "评价期", "整改", "回访")


class Alert(msgspec.Struct, frozen=True):
    level: str
    deadline: datetime


class Correction(msgspec.Struct, frozen=True, kw_only=True):
    """The last revision of a clock's deadline once a year's official holiday schedule was loaded."""

    year: int
    old_deadline: datetime
    status_before: str
    status_after: str
    retracted: list[str] = []
    revised_at: datetime


class Entry(msgspec.Struct, kw_only=True):
    """One clock as the board keeps it."""

    clock_id: str
    purpose: str
    case_id: str
    case_no: str
    step_id: str = ""
    step_name: str = ""
    department: str = ""
    item_code: str = ""
    item_name: str = ""
    owner: str = ""
    owner_name: str = ""
    started_at: datetime
    deadline: datetime
    warning_at: datetime | None = None
    statutory_deadline: datetime | None = None
    paused_at: datetime | None = None
    pause_reason: str = ""
    alerts: list[Alert] = []
    stopped_at: datetime | None = None
    on_time: bool | None = None
    provisional: bool = False  # 暂定
    provisional_years: list[int] = []
    correction: Correction | None = None
    outcome: str = ""  # 退件: stopped without a decision, counted neither on time nor overdue


_entry = msgspec.json.Decoder(Entry)


def status(entry: Entry, now: datetime) -> tuple[Status, str]:
    """The clock's status at ``now`` and its escalation level (督办 …), if any.

    Time stands still while the clock is paused or after it stopped. An alert timing raised for the current
    deadline counts too (timing may keep another time than this process, e.g. a test's ManualClock).
    """
    if entry.outcome:
        return NORMAL, ""  # 退件: the clock ended without a decision, never overdue
    at = min(m for m in (now, entry.paused_at, entry.stopped_at) if m is not None)
    derived: Status = NORMAL
    if at >= entry.deadline:
        derived = OVERDUE
    elif entry.warning_at is not None and at >= entry.warning_at:
        derived = WARNING
    current = [a.level for a in entry.alerts if a.deadline == entry.deadline]
    if any(level != WARNING for level in current):
        derived = OVERDUE
    elif WARNING in current and derived == NORMAL:
        derived = WARNING
    escalation = next((level for level in reversed(current) if level not in (WARNING, OVERDUE)), "")
    return derived, escalation


# ---------------------------------------------------------------- what the API answers


class Count(msgspec.Struct, kw_only=True):
    name: str
    normal: int = 0
    warning: int = 0
    overdue: int = 0
    paused: int = 0


class Row(msgspec.Struct, kw_only=True):
    clock_id: str
    purpose: str
    case_no: str
    step_id: str
    step_name: str
    department: str
    item_name: str
    owner_name: str
    deadline: datetime
    warning_at: datetime | None = None
    provisional: bool = False  # 暂定: the deadline or warning time rests on a year without an official schedule
    provisional_years: list[int] = []
    status: Status
    escalation: str
    paused: bool
    pause_reason: str
    remaining_s: float  # negative when overdue
    # 更正: set once the official schedule moved the deadline ("原 预警，按正式放假安排更正为 正常").
    revised_from: datetime | None = None
    correction: str = ""


class Rate(msgspec.Struct, kw_only=True):
    period: str
    on_time: int
    late: int
    rate: float | None


class BoardView(msgspec.Struct, kw_only=True):
    now: datetime
    purpose: str
    department: str
    totals: Count
    by_department: list[Count]
    by_item: list[Count]
    by_clerk: list[Count]
    warnings: list[Row]
    overdue: list[Row]
    closest: list[Row]
    rates: list[Rate]
    provisional_years: list[int] = []  # the years without an official schedule the listed deadlines rest on
    banner: str = ""  # "2027 年的放假安排尚未公布，相关期限为暂定"


class CaseClocks(msgspec.Struct, kw_only=True):
    case_id: str
    case_no: str
    clocks: list[Row]
    stopped: list[Entry]


def row(entry: Entry, now: datetime) -> Row:
    current, escalation = status(entry, now)
    remaining = (entry.deadline - (entry.paused_at or now)).total_seconds()
    if current == OVERDUE:
        remaining = min(remaining, 0.0)  # timing said so (its time may run ahead of this process's)
    fix = entry.correction
    return Row(
        clock_id=entry.clock_id,
        purpose=entry.purpose,
        case_no=entry.case_no,
        step_id=entry.step_id,
        step_name=entry.step_name,
        department=entry.department,
        item_name=entry.item_name or entry.item_code,
        owner_name=entry.owner_name or entry.owner,
        deadline=entry.deadline,
        warning_at=entry.warning_at,
        provisional=entry.provisional,
        provisional_years=entry.provisional_years,
        status=current,
        escalation=escalation,
        paused=entry.paused_at is not None,
        pause_reason=entry.pause_reason,
        remaining_s=remaining,
        revised_from=fix.old_deadline if fix is not None and fix.old_deadline != entry.deadline else None,
        correction=_correction_text(fix),
    )


def _correction_text(fix: Correction | None) -> str:
    if fix is None:
        return ""
    words = status_correction(fix.status_before, fix.status_after)
    if not words and fix.retracted:
        words = f"按正式放假安排撤回{'、'.join(fix.retracted)}"
    return words or f"已按 {fix.year} 年正式放假安排更正"


def _counts(rows: Iterable[Row], key: Callable[[Row], str]) -> list[Count]:
    found: dict[str, Count] = {}
    for r in rows:
        name = key(r) or "（未填）"
        count = found.setdefault(name, Count(name=name))
        count.paused += r.paused
        if r.status == OVERDUE:
            count.overdue += 1
        elif r.status == WARNING:
            count.warning += 1
        else:
            count.normal += 1
    return sorted(found.values(), key=lambda c: (-c.overdue, -c.warning, c.name))


def rates(done: dict[str, int], today: date) -> list[Rate]:
    """On-time completion of cases today, this week, this month and this year (from per-day counts)."""
    periods = (
        ("今日", today),
        ("本周", today - timedelta(days=today.weekday())),
        ("本月", today.replace(day=1)),
        ("本年", today.replace(month=1, day=1)),
    )
    found: list[Rate] = []
    for label, first in periods:
        on = late = 0
        for field, count in done.items():
            day, _, kind = field.partition(":")
            if first.isoformat() <= day <= today.isoformat():
                on += count if kind == "on" else 0
                late += count if kind == "late" else 0
        found.append(Rate(period=label, on_time=on, late=late, rate=on / (on + late) if on + late else None))
    return found


def board(
    entries: Iterable[Entry],
    done: dict[str, int],
    now: datetime,
    purpose: str = "办件",
    department: str = "",
    *,
    loaded: Iterable[int] = (),
) -> BoardView:
    """The board at ``now``; ``loaded`` are the years whose official schedule is known (never named 暂定)."""
    wanted = CASE_PURPOSES if purpose == "办件" else (purpose,) if purpose else None
    rows = [
        row(e, now)
        for e in entries
        if e.stopped_at is None
        and (wanted is None or e.purpose in wanted)
        and (not department or e.department == department)
    ]
    totals = _counts(rows, lambda _: "合计")
    by_deadline = sorted(rows, key=lambda r: r.deadline)
    years = sorted({y for r in rows if r.provisional for y in r.provisional_years} - set(loaded))
    return BoardView(
        now=now,
        purpose=purpose,
        department=department,
        totals=totals[0] if totals else Count(name="合计"),
        by_department=_counts(rows, lambda r: r.department),
        by_item=_counts(rows, lambda r: r.item_name),
        by_clerk=_counts(rows, lambda r: r.owner_name),
        warnings=[r for r in by_deadline if r.status == WARNING],
        overdue=[r for r in by_deadline if r.status == OVERDUE],
        closest=[r for r in by_deadline if r.status != OVERDUE and not r.paused][:10],
        rates=rates(done, now.astimezone(LOCAL).date()),
        provisional_years=years,
        banner=provisional_banner(years),
    )


# ---------------------------------------------------------------- the read model


class SlaBoard:
    def __init__(self, settings: HallSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SYSTEM_CLOCK

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", "sla", *parts)

    def table(self) -> HandlerTable:
        return {
            "ClockStarted.v1": Route(timing.ClockStarted, self.started),
            "ClockPaused.v1": Route(timing.ClockPaused, self.paused),
            "ClockResumed.v1": Route(timing.ClockResumed, self.moved),
            "ClockExtended.v1": Route(timing.ClockExtended, self.moved),
            "ClockAlerted.v1": Route(timing.ClockAlerted, self.alerted),
            "ClockStopped.v1": Route(timing.ClockStopped, self.stopped),
            "DeadlineRevised.v1": Route(timing.DeadlineRevised, self.revised),
            "CalendarLoaded.v1": Route(timing.CalendarLoaded, self.calendar_loaded),
        }

    async def _load(self, txn: Txn, clock_id: str) -> Entry | None:
        raw = await txn.get(self.key("clock", clock_id))
        return None if raw is None else _entry.decode(raw)

    def _save(self, txn: Txn, entry: Entry) -> None:
        txn.set(self.key("clock", entry.clock_id), entry)
        running, member, score = self.key("running"), entry.clock_id, entry.deadline.timestamp()
        if entry.stopped_at is None:
            txn.write(lambda pipe: pipe.zadd(running, {member: score}))
        else:
            txn.write(lambda pipe: pipe.zrem(running, member))

    async def started(self, env: Envelope, event: timing.ClockStarted, txn: Txn) -> None:
        clock_id = event.clock_id or env.case_id
        if await self._load(txn, clock_id) is not None:
            return
        entry = Entry(
            clock_id=clock_id,
            purpose=event.purpose,
            case_id=env.case_id,
            case_no=event.case_no,
            step_id=event.step_id,
            step_name=event.step_name,
            department=event.department,
            item_code=event.item_code,
            item_name=event.item_name,
            owner=event.owner,
            owner_name=event.owner_name,
            started_at=event.started_at,
            deadline=event.promised_deadline,
            warning_at=event.warning_at,
            statutory_deadline=event.statutory_deadline,
            provisional=event.provisional,
            provisional_years=event.provisional_years,
        )
        self._save(txn, entry)
        index, member = self.key("case", env.case_id), clock_id
        txn.write(lambda pipe: pipe.hset(index, member, event.purpose))

    async def paused(self, _: Envelope, event: timing.ClockPaused, txn: Txn) -> None:
        entry = await self._load(txn, event.clock_id)
        if entry is not None and entry.paused_at is None:
            entry.paused_at, entry.pause_reason = event.paused_at, event.reason
            self._save(txn, entry)

    async def moved(self, _: Envelope, event: timing.ClockResumed | timing.ClockExtended, txn: Txn) -> None:
        entry = await self._load(txn, event.clock_id)
        if entry is None:
            return
        if isinstance(event, timing.ClockResumed):
            entry.paused_at, entry.pause_reason = None, ""
        entry.deadline, entry.warning_at = event.promised_deadline, event.warning_at
        entry.statutory_deadline = event.statutory_deadline
        entry.provisional, entry.provisional_years = event.provisional, event.provisional_years
        self._save(txn, entry)

    async def revised(self, _: Envelope, event: timing.DeadlineRevised, txn: Txn) -> None:
        """The official schedule of a year moved the clock's times: apply them and keep the correction visible."""
        loaded, year = self.key("loaded"), event.year
        txn.write(lambda pipe: pipe.sadd(loaded, year))
        entry = await self._load(txn, event.clock_id)
        if entry is None:
            return
        old = entry.deadline
        # Alerts still due under the new times stay (they now belong to the new deadline); retracted ones go.
        entry.alerts = [
            Alert(a.level, event.promised_deadline if a.deadline == old else a.deadline)
            for a in entry.alerts
            if a.level not in event.retracted
        ]
        entry.deadline, entry.warning_at = event.promised_deadline, event.warning_at
        entry.statutory_deadline = event.statutory_deadline
        entry.provisional, entry.provisional_years = event.provisional, event.provisional_years
        entry.correction = Correction(
            year=event.year,
            old_deadline=event.old_promised_deadline,
            status_before=event.status_before,
            status_after=event.status_after,
            retracted=event.retracted,
            revised_at=event.revised_at,
        )
        self._save(txn, entry)

    async def calendar_loaded(self, _: Envelope, event: timing.CalendarLoaded, txn: Txn) -> None:
        """The year's official schedule is known: the banner no longer names it (revisions follow from timing)."""
        loaded, year = self.key("loaded"), event.year
        txn.write(lambda pipe: pipe.sadd(loaded, year))

    async def alerted(self, _: Envelope, event: timing.ClockAlerted, txn: Txn) -> None:
        entry = await self._load(txn, event.clock_id)
        if entry is not None:
            entry.alerts.append(Alert(event.level, event.deadline))
            self._save(txn, entry)

    async def stopped(self, env: Envelope, event: timing.ClockStopped, txn: Txn) -> None:
        entry = await self._load(txn, event.clock_id or env.case_id)
        if entry is None or entry.stopped_at is not None:
            return
        entry.stopped_at, entry.on_time, entry.deadline = event.stopped_at, event.on_time, event.promised_deadline
        entry.paused_at, entry.outcome = None, event.outcome
        self._save(txn, entry)
        if entry.purpose == "办件" and not event.outcome:
            done, field = (
                self.key("done"),
                f"{event.stopped_at.astimezone(LOCAL).date()}:{'on' if event.on_time else 'late'}",
            )
            txn.write(lambda pipe: pipe.hincrby(done, field, 1))

    # ---------------------------------------------------------------- reading

    async def running(self, redis: Redis) -> list[Entry]:
        ids = cast("list[bytes]", await redis.zrange(self.key("running"), 0, -1))
        return await self._entries(redis, [i.decode() for i in ids])

    async def _entries(self, redis: Redis, ids: list[str]) -> list[Entry]:
        found: list[Entry] = []
        for start in range(0, len(ids), 1000):
            keys = [self.key("clock", clock_id) for clock_id in ids[start : start + 1000]]
            raws = cast("list[bytes | None]", await redis.mget(keys))
            found.extend(_entry.decode(raw) for raw in raws if raw is not None)
        return found

    async def view(self, redis: Redis, purpose: str = "办件", department: str = "") -> BoardView:
        raw = cast("dict[bytes, bytes]", await redis.hgetall(self.key("done")))
        done = {k.decode(): int(v) for k, v in raw.items()}
        loaded = [int(y) for y in cast("set[bytes]", await redis.smembers(self.key("loaded")))]
        return board(await self.running(redis), done, self.clock.now(), purpose, department, loaded=loaded)

    async def case(self, redis: Redis, case_id: str, case_no: str) -> CaseClocks:
        ids = cast("dict[bytes, bytes]", await redis.hgetall(self.key("case", case_id)))
        entries = sorted(await self._entries(redis, [i.decode() for i in ids]), key=lambda e: e.started_at)
        now = self.clock.now()
        return CaseClocks(
            case_id=case_id,
            case_no=case_no,
            clocks=[row(e, now) for e in entries if e.stopped_at is None],
            stopped=[e for e in entries if e.stopped_at is not None],
        )
