"""The operators' SLA board: every clock timing runs, kept from ``timing.events``, and the board derived from them.

A clock's status (正常 / 预警 / 逾期) is derived on every read by :func:`shared.sla.sla_status` (the hall's one
rule, which timing and the workbench use too) from its deadline, its warning moment, its pause or stop, and the
alerts timing raised for its current deadline; its remaining time is working time in the hall's calendar
("剩余 1.5 个工作日", :mod:`services.gateway.sla.calendar`). Completed case clocks count towards the on-time
completion rate of their day.

The three lists (逾期, 预警, 临近办结期限) are paged (``limit``, an opaque ``cursor``; by deadline, then clock id)
from sorted sets the handlers keep per purpose group and department (``ix:{kind}:{group}:{department}``, members
``{deadline ms:013d}|{clock id}`` in one lexicographic order): ``live`` (running, not paused), ``alerted``
(running, with an alert past 预警 for the current deadline) and ``frozen:逾期`` / ``frozen:预警`` (paused:
the status stands still), plus ``due`` and ``warn`` scored by the moment a live clock becomes 逾期 or 预警 for
the counts. A page reads O(page size) members (预警 filters the running clocks after now, by deadline).

The trend charts read per-day counters the handlers keep (``daily:{YYYY-MM-DD}``, fields
``{purpose group}|{department}|{on|late|overdue}``, "" for 全部): clocks that stopped on time or late that day
(退件 neither), and clocks that became 逾期 that day (timing's 逾期 alert for their current deadline, once a
deadline; the day is the deadline's). A chart of 30 days reads 30 hashes' three fields, whatever the history.

A deadline resting on a year without an official holiday schedule is 暂定 (provisional); the board names those
years in a banner until the year's schedule is loaded (``CalendarLoaded``) or a clock's deadline is revised for
it (``DeadlineRevised``). A revision moves the clock's times, withdraws the alert levels it retracts and leaves a
更正 note on the row ("原 预警，按正式放假安排更正为 正常"), so the change of colour is never silent.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple, cast

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from services.gateway.paging import ensure_index
from services.gateway.provisional import banner as provisional_banner
from services.gateway.provisional import status_correction
from services.gateway.sla.calendar import HallCalendars
from services.gateway.sla.counts import Count, Counted, Counts, Tallies, zadd, zrem
from services.gateway.views import timing
from shared.clock import SYSTEM_CLOCK, Clock
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.localtime import LOCAL
from shared.outbox import Txn, Write
from shared.settings import HallSettings
from shared.sla import BADGES, NORMAL, OVERDUE, WARNING, Status, WorkingTime, remaining, remaining_text, sla_status

__all__ = ["BADGES", "NORMAL", "OVERDUE", "WARNING", "Count", "Status"]

CASE_PURPOSES = ("办件", "子件")
PURPOSES = ("办件", "环节", "补齐", "评价期", "整改", "回访")
LISTS = ("overdue", "warnings", "closest")
DEFAULT_LIMIT = 20  # each list on the board; a list page takes up to paging.MOST_LIMIT
SCAN_MOST = 2000  # 预警: running clocks read at most per page (a shorter page then carries a cursor on)


class Alert(msgspec.Struct, frozen=True):
    level: str
    deadline: datetime


class Day(msgspec.Struct, frozen=True, kw_only=True):
    """One day of the board's trend: clocks stopped on time and late, and clocks that became 逾期."""

    day: date
    on_time: int
    late: int
    overdue: int

    @property
    def rate(self) -> float | None:
        done = self.on_time + self.late
        return None if done == 0 else self.on_time / done


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
    hall: str = ""  # whose office hours its working time is reckoned in
    daily: list[str] = []  # what the daily counters hold of it: "stop", "overdue:{deadline}" (each counted once)


_entry = msgspec.json.Decoder(Entry)


def status(entry: Entry, now: datetime) -> tuple[Status, str]:
    """The clock's status at ``now`` and its escalation level (督办 …), if any.

    :func:`shared.sla.sla_status` over the entry's facts: only the alerts of the current deadline count.
    """
    return sla_status(
        entry.deadline,
        entry.warning_at,
        now,
        paused_at=entry.paused_at,
        stopped_at=entry.stopped_at,
        alerts=current_alerts(entry),
        outcome=entry.outcome,
    )


def current_alerts(entry: Entry) -> list[str]:
    """The levels timing raised for the clock's current deadline, in the order raised."""
    return [a.level for a in entry.alerts if a.deadline == entry.deadline]


def stands_at(entry: Entry, now: datetime) -> datetime:
    return min(m for m in (now, entry.paused_at, entry.stopped_at) if m is not None)


# ---------------------------------------------------------------- what the API answers


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
    remaining_s: float  # natural seconds, negative when overdue (kept for old clients; see remaining_days)
    # Working days in the hall's calendar from the moment the clock stands at to its deadline (negative: overdue
    # by), and in words: "剩余 1.5 个工作日" / "已超期 0.5 个工作日".
    remaining_days: float = 0.0
    remaining: str = ""
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
    # Each list's first page: how many there are in all, and the cursor of the next page (None: no more);
    # GET /api/sla/lists/{overdue|warnings|closest} answers the next ones.
    overdue_total: int = 0
    warnings_total: int = 0
    closest_total: int = 0
    overdue_next: str | None = None
    warnings_next: str | None = None
    closest_next: str | None = None
    provisional_years: list[int] = []  # the years without an official schedule the listed deadlines rest on
    banner: str = ""  # "2027 年的放假安排尚未公布，相关期限为暂定"


class ClockPage(msgspec.Struct, kw_only=True):
    """A page of one of the board's lists (逾期 / 预警 / 临近办结期限), by deadline then clock id."""

    name: str  # overdue / warnings / closest
    now: datetime
    rows: list[Row]
    total: int
    next_cursor: str | None = None


class CaseLimit(msgspec.Struct, frozen=True, kw_only=True):
    """The case's own clock (办件) at this moment, as the case page and the kiosk's 进度查询 show it."""

    status: Status
    remaining: str  # "剩余 1.5 个工作日" / "已超期 0.5 个工作日", in the hall's working time
    remaining_days: float
    deadline: datetime
    provisional: bool = False
    paused: bool = False
    pause_reason: str = ""


class CaseClocks(msgspec.Struct, kw_only=True):
    case_id: str
    case_no: str
    clocks: list[Row]
    stopped: list[Entry]


_DEFAULT_CALENDARS = HallCalendars()


def row(entry: Entry, now: datetime, calendar: WorkingTime | None = None) -> Row:
    current, escalation = status(entry, now)
    at = stands_at(entry, now)
    seconds = (entry.deadline - at).total_seconds()
    # To a hundredth of a working day (about five minutes): an answer changes when what it shows changes, so a
    # read waiting for a change (services/gateway/changes.py) is not woken by the clock alone.
    days = round(remaining(entry.deadline, at, calendar or _DEFAULT_CALENDARS.calendar({}, entry.hall)), 2)
    if current == OVERDUE:
        seconds, days = min(seconds, 0.0), min(days, 0.0)  # timing said so (its time may run ahead of ours)
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
        remaining_s=seconds,
        remaining_days=days,
        remaining=remaining_text(days, current),
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


class Tally(NamedTuple):
    """What the board's counts need of a running clock: where it is counted and its status now (no remaining
    working time: that is reckoned for the listed rows only)."""

    department: str
    item_name: str
    owner_name: str
    status: Status
    paused: bool


def tally(entry: Entry, now: datetime) -> Tally:
    return Tally(
        entry.department,
        entry.item_name or entry.item_code,
        entry.owner_name or entry.owner,
        status(entry, now)[0],
        entry.paused_at is not None,
    )


def _counts(rows: Iterable[Tally], key: Callable[[Tally], str]) -> list[Count]:
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
    """The board at ``now`` derived from every clock entry one by one (``loaded``: the years whose official schedule
    is known, never named 暂定): the definition the indexed counts and lists (:meth:`SlaBoard.view`) are held to
    in the tests."""
    wanted = CASE_PURPOSES if purpose == "办件" else (purpose,) if purpose else None
    shown = [
        e
        for e in entries
        if e.stopped_at is None
        and (wanted is None or e.purpose in wanted)
        and (not department or e.department == department)
    ]
    tallies = [tally(e, now) for e in shown]
    totals = _counts(tallies, lambda _: "合计")
    years = sorted({y for e in shown if e.provisional for y in e.provisional_years} - set(loaded))
    by_deadline = sorted((row(e, now) for e in shown), key=lambda r: r.deadline)
    return BoardView(
        now=now,
        purpose=purpose,
        department=department,
        totals=totals[0] if totals else Count(name="合计"),
        by_department=_counts(tallies, lambda r: r.department),
        by_item=_counts(tallies, lambda r: r.item_name),
        by_clerk=_counts(tallies, lambda r: r.owner_name),
        warnings=[r for r in by_deadline if r.status == WARNING],
        overdue=[r for r in by_deadline if r.status == OVERDUE],
        closest=[r for r in by_deadline if r.status != OVERDUE and not r.paused][:10],
        rates=rates(done, now.astimezone(LOCAL).date()),
        provisional_years=years,
        banner=provisional_banner(years),
    )


# ---------------------------------------------------------------- the read model


# ---------------------------------------------------------------- the lists' indexes (see the module's doc)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MEMBER = re.compile(r"\d{13}\|.+")
Place = str | float  # a lexicographic member, or a score (member: the clock id)


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def member(deadline: datetime, clock_id: str) -> str:
    """A clock's member in the lists' sorted sets: ``{deadline ms:013d}|{clock id}`` (one lexicographic order)."""
    return f"{_ms(deadline):013d}|{clock_id}"


def encode_cursor(place: str) -> str:
    return base64.urlsafe_b64encode(place.encode()).decode().rstrip("=")


class BadCursor(ValueError):
    """A cursor no answer gave (the API answers 422)."""


def decode_cursor(text: str) -> str:
    """The member a page ends with; anything else is a :class:`BadCursor`."""
    try:
        place = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        place = ""
    if not _MEMBER.fullmatch(place):
        raise BadCursor("cursor 无效：请使用上一页答复中的 next_cursor")
    return place


def group(purpose: str) -> str | None:
    """The board's purpose filter a clock falls under besides 全部: 办件 holds 子件 too."""
    if purpose in CASE_PURPOSES:
        return "办件"
    return purpose if purpose in PURPOSES else None


def scopes(entry: Entry) -> list[tuple[str, str]]:
    """(purpose group, department) pairs whose lists hold the clock; "" is 全部."""
    named = group(entry.purpose)
    groups = ["", named] if named else [""]
    departments = ["", entry.department] if entry.department else [""]
    return [(g, d) for g in groups for d in departments]


def places(entry: Entry) -> dict[str, Place]:
    """Where the clock stands in its scopes' sorted sets (a pure function of the entry, so a rebuild writes the
    same): running clocks in ``live`` (and ``alerted``), with the moments they become 逾期 (``due``) and 预警
    (``warn``); a paused clock in ``frozen:{status}`` (its status stands still); a stopped one nowhere."""
    if entry.stopped_at is not None or entry.outcome:
        return {}
    place = member(entry.deadline, entry.clock_id)
    if entry.paused_at is not None:
        frozen, _ = status(entry, entry.paused_at)
        return {} if frozen == NORMAL else {f"frozen:{frozen}": place}
    alerted, due, warn = _moments(entry)
    found: dict[str, Place] = {"live": place, "due": due, "warn": warn}
    if alerted:
        found["alerted"] = place
    return found


def _moments(entry: Entry) -> tuple[bool, float, float]:
    """A running clock's (alerted past 预警, the moment it becomes 逾期, the moment it becomes 预警 or 逾期); an
    alert of the current deadline makes its moment 0 (already)."""
    current = current_alerts(entry)
    alerted = any(level != WARNING for level in current)
    due = 0.0 if alerted else entry.deadline.timestamp()
    warn = 0.0 if WARNING in current else entry.warning_at.timestamp() if entry.warning_at else due
    return alerted, due, min(warn, due)


def counted(entry: Entry) -> Counted | None:
    """What the board's counts need of the clock (None when it is not counted: stopped)."""
    if entry.stopped_at is not None or entry.outcome:
        return None
    years = tuple(entry.provisional_years) if entry.provisional else ()
    named = (entry.department, entry.item_name or entry.item_code, entry.owner_name or entry.owner)
    if entry.paused_at is not None:
        return Counted(group(entry.purpose) or "", *named, status(entry, entry.paused_at)[0], 0.0, 0.0, years)
    _, due, warn = _moments(entry)
    return Counted(group(entry.purpose) or "", *named, None, due, warn, years)


def warn_place(entry: Entry) -> tuple[str, float] | None:
    """A running clock's member in the 预警 queue (``warnq``) with the moment it becomes 预警 or 逾期, whichever is
    first (None: paused or stopped)."""
    if entry.stopped_at is not None or entry.outcome or entry.paused_at is not None:
        return None
    return member(entry.deadline, entry.clock_id), _moments(entry)[2]


class Standing(NamedTuple):
    """Where a clock stood in the indexes before an event: the lists' places, the 预警 queue and its counting."""

    places: dict[str, Place]
    counted: Counted | None
    warn: tuple[str, float] | None = None


def standing(entry: Entry | None) -> Standing:
    return Standing({}, None) if entry is None else Standing(places(entry), counted(entry), warn_place(entry))


def clock_key(settings: HallSettings, clock_id: str) -> str:
    return settings.key("gateway", "sla", "clock", clock_id)


def calendar_key(settings: HallSettings) -> str:
    """The years operators loaded (``CalendarLoaded``), year → plan: what remaining working time reckons with."""
    return settings.key("gateway", "sla", "calendar")


def entry_of(raw: bytes | None) -> Entry | None:
    return None if raw is None else _entry.decode(raw)


def daily_due(entry: Entry) -> list[tuple[str, datetime, str]]:
    """What of a clock the daily counters should hold and do not yet: (mark, moment, kind)."""
    due = [(f"overdue:{a.deadline.isoformat()}", a.deadline, "overdue") for a in entry.alerts if a.level == OVERDUE]
    if entry.stopped_at is not None and entry.on_time is not None and not entry.outcome:
        due.append(("stop", entry.stopped_at, "on" if entry.on_time else "late"))
    return [d for d in dict.fromkeys(due) if d[0] not in entry.daily]


class SlaBoard:
    def __init__(self, settings: HallSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SYSTEM_CLOCK
        self.calendars = HallCalendars()
        self.counts = Counts(self.key())

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

    def _save(self, txn: Txn, entry: Entry, was: Standing) -> None:
        """The entry, its place among the running clocks, and its places in the lists' indexes (``was``: where
        it stood before this event)."""
        txn.set(self.key("clock", entry.clock_id), entry)
        running, clock_id, score = self.key("running"), entry.clock_id, entry.deadline.timestamp()
        if entry.stopped_at is None:
            txn.write(lambda pipe: pipe.zadd(running, {clock_id: score}))
        else:
            txn.write(lambda pipe: pipe.zrem(running, clock_id))
        for write in self.index_writes(entry, was):
            txn.write(write)

    def index_writes(self, entry: Entry, standing_was: Standing) -> list[Write]:
        """The writes that move the clock from where it stood (``standing_was``) to where ``entry`` stands now: its
        places in the lists' sorted sets and its counting (:mod:`services.gateway.sla.counts`)."""
        was, now, clock_id = standing_was.places, places(entry), entry.clock_id
        writes = self.counts.writes(clock_id, standing_was.counted, counted(entry))
        warn_was, warn_now = standing_was.warn, warn_place(entry)
        for g, d in scopes(entry):
            # The 预警 queue: a clock whose place or warning moment changed leaves the queue and the 预警 list (a read
            # moves it from the queue into the list once its moment has come: :meth:`_promote`).
            if warn_was != warn_now and warn_was is not None:
                writes += [
                    zrem(self.key("ix", "warnq", g, d), warn_was[0]),
                    zrem(self.key("ix", "warned", g, d), warn_was[0]),
                ]
            if warn_was != warn_now and warn_now is not None:
                writes.append(zadd(self.key("ix", "warnq", g, d), {warn_now[0]: warn_now[1]}))
            for kind, old in was.items():
                if kind not in now or (isinstance(old, str) and now[kind] != old):
                    writes.append(zrem(self.key("ix", kind, g, d), old if isinstance(old, str) else clock_id))
            for kind, new in now.items():
                if was.get(kind) != new:
                    entries = {new: 0.0} if isinstance(new, str) else {clock_id: new}
                    writes.append(zadd(self.key("ix", kind, g, d), entries))
        return writes

    async def ensure_indexes(self, redis: Redis) -> None:
        """A namespace kept before the lists' sorted sets existed: build them once from the running clocks (the
        handlers keep them from then on, and a rebuild writes them with everything else)."""

        async def build() -> None:
            entries = await self.running(redis)
            async with redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    for write in self.index_writes(entry, standing(None)):
                        write(pipe)
                await pipe.execute()

        await ensure_index(redis, self.settings.key("gateway", "built-index", "sla-counts"), build)

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
            hall=event.hall,
        )
        self._save(txn, entry, standing(None))
        index, clock = self.key("case", env.case_id), clock_id
        txn.write(lambda pipe: pipe.hset(index, clock, event.purpose))

    async def paused(self, _: Envelope, event: timing.ClockPaused, txn: Txn) -> None:
        entry = await self._load(txn, event.clock_id)
        if entry is not None and entry.paused_at is None:
            was = standing(entry)
            entry.paused_at, entry.pause_reason = event.paused_at, event.reason
            self._save(txn, entry, was)

    async def moved(self, _: Envelope, event: timing.ClockResumed | timing.ClockExtended, txn: Txn) -> None:
        entry = await self._load(txn, event.clock_id)
        if entry is None:
            return
        was = standing(entry)
        if isinstance(event, timing.ClockResumed):
            entry.paused_at, entry.pause_reason = None, ""
        entry.deadline, entry.warning_at = event.promised_deadline, event.warning_at
        entry.statutory_deadline = event.statutory_deadline
        entry.provisional, entry.provisional_years = event.provisional, event.provisional_years
        self._save(txn, entry, was)

    async def revised(self, _: Envelope, event: timing.DeadlineRevised, txn: Txn) -> None:
        """The official schedule of a year moved the clock's times: apply them and keep the correction visible."""
        loaded, year = self.key("loaded"), event.year
        txn.write(lambda pipe: pipe.sadd(loaded, year))
        entry = await self._load(txn, event.clock_id)
        if entry is None:
            return
        was = standing(entry)
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
        self._save(txn, entry, was)

    async def calendar_loaded(self, _: Envelope, event: timing.CalendarLoaded, txn: Txn) -> None:
        """The year's official schedule is known: the banner no longer names it (revisions follow from timing),
        and remaining working time reckons with its days."""
        loaded, year = self.key("loaded"), event.year
        txn.write(lambda pipe: pipe.sadd(loaded, year))
        plans, plan = self.key("calendar"), msgspec.json.encode(event)
        txn.write(lambda pipe: pipe.hset(plans, str(year), plan))

    def _daily(self, txn: Txn, entry: Entry, moment: datetime, kind: str) -> None:
        """Count the clock in its scopes' counters of ``moment``'s local day (``kind``: on, late or overdue)."""
        key = self.key("daily", moment.astimezone(LOCAL).date().isoformat())
        fields = [f"{g}|{d}|{kind}" for g, d in scopes(entry)]

        def count(pipe: Pipeline) -> None:
            for field in fields:
                pipe.hincrby(key, field, 1)

        txn.write(count)

    async def alerted(self, _: Envelope, event: timing.ClockAlerted, txn: Txn) -> None:
        entry = await self._load(txn, event.clock_id)
        if entry is not None:
            was = standing(entry)
            mark = f"overdue:{event.deadline.isoformat()}"
            if event.level == OVERDUE and mark not in entry.daily and entry.stopped_at is None:
                self._daily(txn, entry, event.deadline, "overdue")
                entry.daily = [*entry.daily, mark]
            entry.alerts.append(Alert(event.level, event.deadline))
            self._save(txn, entry, was)

    async def stopped(self, env: Envelope, event: timing.ClockStopped, txn: Txn) -> None:
        entry = await self._load(txn, event.clock_id or env.case_id)
        if entry is None or entry.stopped_at is not None:
            return
        was = standing(entry)
        entry.stopped_at, entry.on_time, entry.deadline = event.stopped_at, event.on_time, event.promised_deadline
        entry.paused_at, entry.outcome = None, event.outcome
        if not event.outcome:
            self._daily(txn, entry, event.stopped_at, "on" if event.on_time else "late")
            entry.daily = [*entry.daily, "stop"]
        self._save(txn, entry, was)
        if entry.purpose == "办件" and not event.outcome:
            done, field = (
                self.key("done"),
                f"{event.stopped_at.astimezone(LOCAL).date()}:{'on' if event.on_time else 'late'}",
            )
            txn.write(lambda pipe: pipe.hincrby(done, field, 1))

    # ---------------------------------------------------------------- reading

    async def calendar_of(self, redis: Redis) -> Callable[[str], WorkingTime]:
        """The working calendar of each hall, with the years operators loaded."""
        plans = cast("dict[bytes, bytes]", await redis.hgetall(self.key("calendar")))
        return self.calendars.of(plans)

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

    async def view(
        self, redis: Redis, purpose: str = "办件", department: str = "", limit: int = DEFAULT_LIMIT
    ) -> BoardView:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.key("done"))
            pipe.smembers(self.key("loaded"))
            pipe.hgetall(self.key("calendar"))
            raw, raw_loaded, plans = await pipe.execute()
        done = {k.decode(): int(v) for k, v in cast("dict[bytes, bytes]", raw).items()}
        loaded = [int(y) for y in cast("set[bytes]", raw_loaded)]
        now, calendar_of = self.clock.now(), self.calendars.of(cast("dict[bytes, bytes]", plans))
        await self.ensure_indexes(redis)
        counts = await self.counts.read(redis, purpose, department, now, loaded)
        view = BoardView(
            now=now,
            purpose=purpose,
            department=department,
            totals=counts.totals,
            by_department=counts.by_department,
            by_item=counts.by_item,
            by_clerk=counts.by_clerk,
            warnings=[],
            overdue=[],
            closest=[],
            rates=rates(done, now.astimezone(LOCAL).date()),
            provisional_years=counts.provisional_years,
            banner=provisional_banner(counts.provisional_years),
        )
        totals = await self._totals(redis, purpose, department, now)  # the three lists' counts in one round trip
        pages = [
            await self.page(
                redis, name, purpose, department, limit=limit, now=now, calendar_of=calendar_of, totals=totals
            )
            for name in LISTS
        ]
        overdue, warnings, closest = pages
        view.overdue, view.overdue_total, view.overdue_next = overdue.rows, overdue.total, overdue.next_cursor
        view.warnings, view.warnings_total, view.warnings_next = warnings.rows, warnings.total, warnings.next_cursor
        view.closest, view.closest_total, view.closest_next = closest.rows, closest.total, closest.next_cursor
        return view

    async def ensure_daily(self, redis: Redis) -> None:
        """A namespace kept before the daily counters: count every stored clock once (a scan of the clocks, once;
        the handlers keep the counters from then on). Each clock in its own transaction, marked in its entry
        (``daily``), so a clock the handlers counted meanwhile is never counted twice."""

        async def count(key: bytes) -> None:
            async with redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(key)
                        entry = entry_of(cast("bytes | None", await pipe.get(key)))
                        due = [] if entry is None else daily_due(entry)
                        if entry is None or not due:
                            return
                        pipe.multi()
                        for mark, moment, kind in due:
                            day = self.key("daily", moment.astimezone(LOCAL).date().isoformat())
                            for g, d in scopes(entry):
                                pipe.hincrby(day, f"{g}|{d}|{kind}", 1)
                            entry.daily = [*entry.daily, mark]
                        pipe.set(key, msgspec.json.encode(entry))
                        await pipe.execute()
                        return
                    except WatchError:
                        await pipe.reset()

        async def build() -> None:
            async for key in redis.scan_iter(match=self.key("clock", "*"), count=10000):
                await count(cast("bytes", key))

        await ensure_index(redis, self.settings.key("gateway", "built-index", "sla-daily"), build)

    async def daily(self, redis: Redis, purpose: str = "办件", department: str = "", days: int = 30) -> list[Day]:
        """The last ``days`` local days up to today (the hall's clock), oldest first: O(days), never the history."""
        await self.ensure_daily(redis)
        today = self.clock.now().astimezone(LOCAL).date()
        wanted = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
        fields = [f"{purpose}|{department}|{kind}" for kind in ("on", "late", "overdue")]
        async with redis.pipeline(transaction=False) as pipe:
            for day in wanted:
                pipe.hmget(self.key("daily", day.isoformat()), fields)
            found = cast("list[list[bytes | None]]", await pipe.execute())
        return [
            Day(day=day, on_time=int(on or 0), late=int(late or 0), overdue=int(overdue or 0))
            for day, (on, late, overdue) in zip(wanted, found, strict=True)
        ]

    async def tallies(self, redis: Redis, purpose: str = "办件", department: str = "") -> Tallies:
        """The board's counts alone (合计, by department, item and clerk, 暂定 years), without its lists' pages."""
        loaded = [int(y) for y in cast("set[bytes]", await redis.smembers(self.key("loaded")))]
        await self.ensure_indexes(redis)
        return await self.counts.read(redis, purpose, department, self.clock.now(), loaded)

    async def page(
        self,
        redis: Redis,
        name: str,
        purpose: str = "办件",
        department: str = "",
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str = "",
        now: datetime | None = None,
        calendar_of: Callable[[str], WorkingTime] | None = None,
        totals: Mapping[str, int] | None = None,
    ) -> ClockPage:
        """A page of the list ``name`` (overdue / warnings / closest) after ``cursor``, by deadline then clock id,
        with the list's total (``totals``: already counted): O(page size) reads (预警 reads at most ``SCAN_MOST``
        running clocks a page); ``limit`` as the API checked it (``paging.checked_limit``)."""
        if name not in LISTS:
            raise ValueError(f"未知的清单：{name}（可选：{'、'.join(LISTS)}）")
        after = decode_cursor(cursor) if cursor else ""
        await self.ensure_indexes(redis)
        now = now or self.clock.now()
        calendar_of = calendar_of or await self.calendar_of(redis)
        ix = {kind: self.key("ix", kind, purpose, department) for kind in ("live", "alerted", "due", "warn")}
        later = f"{_ms(now) + 1:013d}"  # members from here on have a deadline after now
        wanted: Status
        if name == "overdue":
            wanted = OVERDUE
            sources = [(ix["live"], "-", f"({later}"), (ix["alerted"], f"[{later}", "+")]
            sources.append((self.key("ix", f"frozen:{OVERDUE}", purpose, department), "-", "+"))
        elif name == "warnings":
            wanted = WARNING
            await self._promote(redis, purpose, department, now)
            sources = [(self.key("ix", "warned", purpose, department), f"[{later}", "+")]
            sources.append((self.key("ix", f"frozen:{WARNING}", purpose, department), "-", "+"))
        else:
            wanted = NORMAL  # 正常 or 预警: not overdue, running
            sources = [(ix["live"], f"[{later}", "+")]
        rows, next_place = await self._scan(
            redis, sources, after=after, limit=limit, now=now, calendar_of=calendar_of, wanted=wanted
        )
        total = (totals or await self._totals(redis, purpose, department, now))[name]
        cursor_out = encode_cursor(next_place) if next_place else None
        return ClockPage(name=name, now=now, rows=rows, total=total, next_cursor=cursor_out)

    async def _scan(
        self,
        redis: Redis,
        sources: list[tuple[str, str, str]],
        *,
        after: str,
        limit: int,
        now: datetime,
        calendar_of: Callable[[str], WorkingTime],
        wanted: Status,
    ) -> tuple[list[Row], str]:
        """Merge the sources (disjoint, each in member order) after ``after``; keep the rows of the wanted status
        (closest: any but 逾期). Returns the page and the member to continue after ("" when no more)."""
        found: list[tuple[str, Row]] = []
        last, scanned, batch = after, 0, limit + 1
        while True:
            bound: str | None = None
            fetched: list[str] = []
            more = False
            async with redis.pipeline(transaction=False) as pipe:  # every source in one round trip
                for key, low, high in sources:
                    start = f"({last}" if last and (low in ("-", "") or last >= low[1:]) else low
                    pipe.zrangebylex(key, start, high, 0, batch)
                answers = cast("list[list[bytes]]", await pipe.execute())
            for answer in answers:
                got = [m.decode() for m in answer]
                fetched += got
                if len(got) == batch:
                    more = True
                    bound = got[-1] if bound is None else min(bound, got[-1])
            ordered = sorted(set(fetched))
            if bound is not None:
                ordered = [m for m in ordered if m <= bound]
            if not ordered:
                return [r for _, r in found[:limit]], ""
            entries = await self._entries_by_member(redis, ordered)
            for place in ordered:
                last, scanned = place, scanned + 1
                entry = entries.get(place)
                if entry is None:
                    continue
                r = row(entry, now, calendar_of(entry.hall))
                if r.status == wanted or (wanted == NORMAL and r.status != OVERDUE and not r.paused):
                    found.append((place, r))
                    if len(found) > limit:
                        return [r for _, r in found[:limit]], found[limit - 1][0]
            if not more:
                return [r for _, r in found[:limit]], ""
            if scanned >= SCAN_MOST:
                return [r for _, r in found], last  # a shorter page; the next one goes on from here

    async def _promote(self, redis: Redis, purpose: str, department: str, now: datetime) -> None:
        """Running clocks whose 预警 moment has come move from the queue (scored by that moment) into the 预警 list's
        set (by deadline): each once per place, so a page reads O(page size), never every running clock. The list
        skips those since overdue (deadline before now) by range and any a concurrent write moved (stale)."""
        queue, warned = self.key("ix", "warnq", purpose, department), self.key("ix", "warned", purpose, department)
        come = cast("list[bytes]", await redis.zrangebyscore(queue, "-inf", now.timestamp()))
        if come:
            async with redis.pipeline(transaction=True) as pipe:
                pipe.zadd(warned, dict.fromkeys(come, 0.0))
                pipe.zrem(queue, *come)
                await pipe.execute()

    async def _entries_by_member(self, redis: Redis, places: list[str]) -> dict[str, Entry]:
        keys = [self.key("clock", p.split("|", 1)[1]) for p in places]
        raws = cast("list[bytes | None]", await redis.mget(keys))
        found = {p: _entry.decode(raw) for p, raw in zip(places, raws, strict=True) if raw is not None}
        # A member left behind by a write that raced a promotion no longer names the clock's deadline: not shown.
        return {p: e for p, e in found.items() if member(e.deadline, e.clock_id) == p}

    async def _totals(self, redis: Redis, purpose: str, department: str, now: datetime) -> dict[str, int]:
        """How many clocks each list holds at ``now``, by name."""

        def ix(kind: str) -> str:
            return self.key("ix", kind, purpose, department)

        later = f"{_ms(now) + 1:013d}"  # members from here on have a deadline after now
        pipe = redis.pipeline(transaction=False)
        pipe.zlexcount(ix("live"), "-", f"({later}")
        pipe.zlexcount(ix("live"), f"[{later}", "+")
        pipe.zlexcount(ix("alerted"), f"[{later}", "+")
        pipe.zcard(ix(f"frozen:{OVERDUE}"))
        pipe.zcard(ix(f"frozen:{WARNING}"))
        pipe.zcount(ix("warn"), "-inf", now.timestamp())
        pipe.zcount(ix("due"), "-inf", now.timestamp())
        past, ahead, alerted_ahead, frozen_over, frozen_warn, warn_by, due_by = cast("list[int]", await pipe.execute())
        return {
            "overdue": past + alerted_ahead + frozen_over,
            "warnings": max(warn_by - due_by, 0) + frozen_warn,
            "closest": ahead - alerted_ahead,
        }

    async def case(self, redis: Redis, case_id: str, case_no: str) -> CaseClocks:
        ids = cast("dict[bytes, bytes]", await redis.hgetall(self.key("case", case_id)))
        entries = sorted(await self._entries(redis, [i.decode() for i in ids]), key=lambda e: e.started_at)
        now, calendar_of = self.clock.now(), await self.calendar_of(redis)
        return CaseClocks(
            case_id=case_id,
            case_no=case_no,
            clocks=[row(e, now, calendar_of(e.hall)) for e in entries if e.stopped_at is None],
            stopped=[e for e in entries if e.stopped_at is not None],
        )

    async def case_limit(self, redis: Redis, case_id: str) -> CaseLimit | None:
        """The case's running 办件 clock now (None before timing started it and after it stopped)."""
        ids = cast("dict[bytes, bytes]", await redis.hgetall(self.key("case", case_id)))
        mine = [clock_id.decode() for clock_id, purpose in ids.items() if purpose.decode() == "办件"]
        running = [e for e in await self._entries(redis, mine) if e.stopped_at is None and not e.outcome]
        if not running:
            return None
        entry = running[0]
        shown = row(entry, self.clock.now(), (await self.calendar_of(redis))(entry.hall))
        return CaseLimit(
            status=shown.status,
            remaining=shown.remaining,
            remaining_days=shown.remaining_days,
            deadline=shown.deadline,
            provisional=shown.provisional,
            paused=shown.paused,
            pause_reason=shown.pause_reason,
        )
