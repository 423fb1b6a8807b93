"""Every acknowledged write accounted, from the namespace's topics and the gateway's API.

A submission is *acknowledged* when it was answered 201 (with a case number) or 202 (safe in Kafka, not yet
carried out). For each one:

- **lost**: answered 201 and no ``CaseAccepted`` for its case in ``intake.events``, or the gateway does not know
  the case number (``GET /api/cases/{no}`` is not 200) once the run has settled;
- **duplicated**: two case numbers for one key (or a number other than the one answered), the case accepted
  twice (two ``CaseAccepted`` event ids), two 承办 steps, a step or the case accepted twice on the timeline, or
  one clock's alert of one level raised twice (two event ids);
- **stuck**: answered only 202 and never accepted; accepted but its 承办 step or its clock never started; a
  driven case whose last act the hall acknowledged (a decision, the delivery, the rating) never showed its effect
  on the gateway (its state: 已办结, 已出件, 已评价), or an undriven one not 办理中; a clock whose 预警 or 逾期
  time has passed (by more than a grace) while it ran, without that alert.
- **cut short** (not a failure of the hall): a driven lifecycle the client gave up on at its own deadline (the
  faults slowed it: every answer within bounds, but the whole lifecycle longer than the client's patience), with
  every act it sent carried out.

Redelivered records with the same event id are not duplicates: consumers de-duplicate by event id.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.chaos.driver import Client, Submission
from deploy.chaos.faults import FaultResult
from shared import topics
from shared.clock import SYSTEM_CLOCK
from shared.envelope import decode
from shared.settings import HallSettings
from tests.journeys import CLERK_ID

ALERT_GRACE = timedelta(seconds=60)
READS_PER_S = 60  # the accounting's case reads, below the gateway's 100 a second per caller
STATES = ("已受理", "办理中", "已办结", "已出件", "已评价")


@dataclass
class Topics:
    """What the namespace's topics hold, indexed by case and clock."""

    accepted: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # case id → case nos
    accepted_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # case id → event ids
    refused: set[str] = field(default_factory=set)
    first_steps: dict[str, dict[str, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    clocks: dict[str, dict[str, Any]] = field(default_factory=dict)  # clock id → ClockStarted payload (+case_id)
    case_clocks: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    stopped: dict[str, datetime] = field(default_factory=dict)
    altered: set[str] = field(default_factory=set)  # paused, extended or revised: alert times moved
    alerts: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    dead_letters: int = 0
    records: int = 0


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


async def read_topics(settings: HallSettings) -> Topics:
    """Every record of the namespace's event topics and dead letters, from the beginning to the current end."""
    wanted = (topics.INTAKE_EVENTS, topics.ROUTING_EVENTS, topics.TIMING_EVENTS, topics.DEAD_LETTERS)
    partitions = [
        TopicPartition(settings.topic(spec.name), p)
        for spec in topics.ALL
        if spec.name in wanted
        for p in range(spec.partitions)
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    seen = Topics()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp for tp in partitions if ends[tp] > 0}
        while left:
            batch = await consumer.getmany(*left, timeout_ms=2000)
            for tp, records in batch.items():
                for record in records:
                    seen.records += 1
                    if tp.topic == settings.topic(topics.DEAD_LETTERS):
                        seen.dead_letters += 1
                    elif record.value is not None:
                        _index(seen, record.value)
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
    finally:
        await consumer.stop()
    return seen


def _index(seen: Topics, value: bytes) -> None:
    try:
        envelope = decode(value)
        payload: dict[str, Any] = msgspec.json.decode(envelope.payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return
    kind = envelope.type.split(".")[0]
    case_id = envelope.case_id
    if kind == "CaseAccepted":
        seen.accepted[case_id].add(payload["case_no"])
        seen.accepted_ids[case_id].add(envelope.event_id)
    elif kind == "CaseRefused":
        seen.refused.add(case_id)
    elif kind == "StepOpened" and payload.get("seq") == 1:
        seen.first_steps[case_id][payload["step_id"]].add(envelope.event_id)
    elif kind == "ClockStarted":
        clock_id = payload.get("clock_id") or case_id
        seen.clocks[clock_id] = {**payload, "case_id": case_id}
        seen.case_clocks[case_id].add(clock_id)
    elif kind == "ClockStopped":
        stopped = _time(payload.get("stopped_at"))
        if stopped is not None:
            seen.stopped[payload.get("clock_id") or case_id] = stopped
    elif kind in ("ClockPaused", "ClockResumed", "ClockExtended", "DeadlineRevised"):
        seen.altered.add(payload.get("clock_id") or case_id)
    elif kind == "ClockAlerted":
        seen.alerts[(payload["clock_id"], payload["level"])].add(envelope.event_id)


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    cut_short: list[str] = field(default_factory=list)


def judge(sub: Submission, seen: Topics, api: dict[str, Any] | None, now: datetime) -> Verdict:  # noqa: PLR0912
    """The verdict on one acknowledged submission (``api`` is the gateway's case view, None if not 200)."""
    verdict = Verdict()
    who = sub.case_no or sub.key
    numbers = seen.accepted.get(sub.case_id, set())
    if not numbers:
        if sub.case_no:
            verdict.lost.append(f"{who}: answered 201, never accepted in intake.events")
        elif sub.case_id not in seen.refused:
            verdict.stuck.append(f"{sub.key}: answered 202, never carried out")
        return verdict
    if len(numbers) > 1 or (sub.case_no and sub.case_no not in numbers):
        verdict.duplicated.append(f"{sub.key}: case numbers {sorted(numbers)} (answered {sub.case_no or '-'})")
    if len(seen.accepted_ids[sub.case_id]) > 1:
        verdict.duplicated.append(f"{who}: CaseAccepted {len(seen.accepted_ids[sub.case_id])} times")
    case_no = sub.case_no or min(numbers)
    steps = seen.first_steps.get(sub.case_id, {})
    if not steps:
        verdict.stuck.append(f"{case_no}: accepted, no 承办 step opened")
    elif len(steps) > 1 or any(len(ids) > 1 for ids in steps.values()):
        verdict.duplicated.append(f"{case_no}: 承办 opened {sum(len(i) for i in steps.values())} times")
    clocks = seen.case_clocks.get(sub.case_id, set())
    if sub.case_id not in clocks:
        verdict.stuck.append(f"{case_no}: accepted, its clock never started")
    for (clock_id, level), ids in seen.alerts.items():
        if clock_id in clocks and len(ids) > 1:
            verdict.duplicated.append(f"{case_no}: {level} of clock {clock_id} raised {len(ids)} times")
    for clock_id in clocks - seen.altered:
        clock = seen.clocks[clock_id]
        stopped = seen.stopped.get(clock_id)
        for level, due in (("预警", _time(clock.get("warning_at"))), ("逾期", _time(clock.get("promised_deadline")))):
            if due is None or due > now - ALERT_GRACE or (stopped is not None and stopped <= due):
                continue
            if (clock_id, level) not in seen.alerts:
                verdict.stuck.append(f"{case_no}: clock {clock_id} due for {level} at {due:%H:%M:%S}, no alert")
    if api is None:
        verdict.lost.append(f"{case_no}: in intake.events, unknown to the gateway (GET /api/cases not 200)")
        return verdict
    kinds = Counter(entry["type"].split(".")[0] for entry in api.get("timeline", []))
    if kinds["CaseAccepted"] > 1:
        verdict.duplicated.append(f"{case_no}: accepted {kinds['CaseAccepted']} times on the timeline")
    # A lifecycle the client cut short owes the effect of its last acknowledged act, not the whole way.
    wanted = "办理中" if not sub.drive else (sub.owed or "办理中") if sub.drive_error else "已评价"
    state = api.get("state", "")
    extra = f" ({sub.drive_error})" if sub.drive_error else ""
    if state not in STATES or STATES.index(state) < STATES.index(wanted):
        verdict.stuck.append(f"{case_no}: {state or '?'} on the gateway, expected {wanted}{extra}")
    elif sub.drive and sub.drive_error:
        verdict.cut_short.append(f"{case_no}: {state} on the gateway{extra}")
    return verdict


async def case_views(client: Client, subs: list[Submission], seen: Topics) -> dict[str, dict[str, Any] | None]:
    """``GET /api/cases/{no}`` of every accepted case (by case id), 20 at a time and at most ``READS_PER_S`` a
    second: the gateway allows one caller 100 requests a second (``api_rate_per_minute``), and a read refused 429
    past its patience would count its case as unknown to the gateway."""
    gate = asyncio.Semaphore(20)
    views: dict[str, dict[str, Any] | None] = {}
    started, sent = time.monotonic(), 0

    async def one(sub: Submission) -> None:
        nonlocal sent
        numbers = seen.accepted.get(sub.case_id)
        case_no = sub.case_no or (min(numbers) if numbers else "")
        if not case_no:
            return
        async with gate:
            sent += 1
            ahead = started + sent / READS_PER_S - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
            response = await client.request("GET", f"/api/cases/{case_no}", CLERK_ID, patience_s=60)
        views[sub.case_id] = response.json() if response is not None and response.status_code == 200 else None

    await asyncio.gather(*(one(s) for s in subs))
    return views


@dataclass
class Account:
    """The whole run's accounting, one row per phase (warm-up, each fault, the end) and the totals."""

    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    examples: dict[str, list[str]]
    dead_letters: int
    records: int
    alerts_checked: int

    @property
    def failed(self) -> bool:
        return bool(
            self.totals["lost"] or self.totals["duplicated"] or self.totals["stuck"] or self.totals["unrecovered"]
        )


def _failing(verdict: Verdict) -> bool:
    return bool(verdict.lost or verdict.duplicated or verdict.stuck)


def acknowledged(sub: Submission) -> bool:
    return bool(sub.case_no) or sub.pending


async def checkpoint(client: Client, settings: HallSettings) -> dict[str, Verdict]:
    """Every verdict as it stands now (taken just before a fault that destroys state, e.g. the Redis wipe)."""
    # A case submitted in the last minute may not have reached every read model yet: it is left out, and
    # counts in the next fault's row if it fails in the end.
    young = time.monotonic() - 60
    subs = [s for s in client.submissions if acknowledged(s) and s.sent_at < young]
    seen = await read_topics(settings)
    views = await case_views(client, subs, seen)
    now = SYSTEM_CLOCK.now()
    return {s.key: judge(s, seen, views.get(s.case_id), now) for s in subs}


def order_before(fault: str, results: list[FaultResult]) -> set[str]:
    """The phases before ``fault``: only their cases can be charged to it."""
    names = [r.name for r in results]
    return {"warm-up", *names[: names.index(fault)]} if fault in names else set()


def broke_since(before: Verdict | None, after: Verdict) -> bool:
    """True when ``after`` fails in a way ``before`` did not (a case still under way before counts as clean)."""
    if before is None:  # too young to judge at the checkpoint
        return _failing(after)
    clean = not _failing(before)
    return bool(
        (after.lost and not before.lost) or (after.duplicated and not before.duplicated) or (after.stuck and clean)
    )


async def account(
    client: Client,
    settings: HallSettings,
    results: list[FaultResult],
    *,
    settle_s: float,
    log: Any,
    checkpoints: dict[str, dict[str, Verdict]] | None = None,
) -> Account:
    """Reads the topics and the gateway until every verdict is final or ``settle_s`` has passed.

    A case counts in the row of the phase it was submitted in, except that a case that was sound at a
    checkpoint taken just before a fault (``checkpoints``: fault name → verdicts) and failed afterwards counts in
    that fault's row (the last such fault).
    """
    subs = [s for s in client.submissions if acknowledged(s)]
    deadline: float | None = None  # ``settle_s`` from the end of the first reading of every case
    views: dict[str, dict[str, Any] | None] = {}
    unsettled = subs
    while True:
        seen = await read_topics(settings)
        views.update(await case_views(client, unsettled, seen))  # a case found sound is not read again
        deadline = deadline or time.monotonic() + settle_s
        now = SYSTEM_CLOCK.now()
        verdicts = {s.key: judge(s, seen, views.get(s.case_id), now) for s in subs}
        unsettled = [s for s in subs if _failing(verdicts[s.key])]
        if not unsettled or time.monotonic() > deadline:
            break
        log(f"accounting: {len(unsettled)} cases not final yet, reading them again")
        await asyncio.sleep(10)

    charged = {s.key: s.phase for s in subs}
    for fault, before in (checkpoints or {}).items():
        for key, verdict in verdicts.items():
            if charged[key] in order_before(fault, results) and broke_since(before.get(key), verdict):
                charged[key] = fault
    order = ["warm-up", *(r.name for r in results), "after the faults"]
    by_name = {r.name: r for r in results}
    rows: list[dict[str, Any]] = []
    examples: dict[str, list[str]] = {"lost": [], "duplicated": [], "stuck": [], "cut_short": []}
    for phase in order:
        mine = [s for s in client.submissions if s.phase == phase]
        counts = client.phases.get(phase)
        result = by_name.get(phase)
        row: dict[str, Any] = {
            "phase": phase,
            "submitted": len(mine),
            "acknowledged": sum(1 for s in mine if acknowledged(s)),
            "driven": sum(1 for s in mine if s.drive),
            "drive_skipped": sum(1 for s in mine if s.drive_skipped),
            "gave_up": sum(1 for s in mine if s.gave_up),
            "unexpected": sum(1 for s in mine if s.unexpected),
            "requests": counts.requests if counts else 0,
            "server_errors": counts.server_errors if counts else 0,
            "status_500": counts.statuses[500] if counts else 0,
            "throttled": counts.throttled if counts else 0,
            "failures": counts.failures if counts else 0,
            "lost": 0,
            "duplicated": 0,
            "stuck": 0,
            "cut_short": 0,
            "recovery_s": result.recovery_s if result else None,
            "after_end_s": result.after_end_s if result else None,
            "unrecovered": int(result is not None and not result.recovered),
            "notes": "; ".join(result.notes) if result else "",
        }
        for sub in subs:
            verdict = verdicts[sub.key]
            if charged[sub.key] != phase:
                continue
            for kind in ("lost", "duplicated", "stuck", "cut_short"):
                found: list[str] = getattr(verdict, kind)
                if found:
                    row[kind] += 1
                    examples[kind].extend(found)
        rows.append(row)
    totals = {
        key: sum(r[key] for r in rows)
        for key in (
            "submitted",
            "acknowledged",
            "driven",
            "drive_skipped",
            "gave_up",
            "unexpected",
            "requests",
            "server_errors",
            "status_500",
            "throttled",
            "failures",
            "lost",
            "duplicated",
            "stuck",
            "cut_short",
            "unrecovered",
        )
    }
    checked = sum(
        1
        for clock_id, clock in seen.clocks.items()
        if clock_id not in seen.altered
        for due in (_time(clock.get("warning_at")), _time(clock.get("promised_deadline")))
        if due is not None and due <= now - ALERT_GRACE
    )
    return Account(rows, totals, examples, seen.dead_letters, seen.records, checked)


def table(acc: Account, markdown: bool = False) -> str:
    head = [
        "fault",
        "recovery s",
        "submitted",
        "acked",
        "driven",
        "5xx (500)",
        "429",
        "conn/timeout",
        "gave up",
        "lost",
        "duplicated",
        "stuck",
        "cut short",
    ]

    def cells(row: dict[str, Any], name: str) -> list[str]:
        recovery = row.get("recovery_s")
        if row is acc.totals:
            rec = f"{acc.totals['unrecovered']} not recovered"
        elif name in ("warm-up", "after the faults"):
            rec = "-"
        else:
            rec = f"{recovery:.1f}" if recovery is not None else "NOT RECOVERED"
        errors = f"{row['server_errors']} ({row['status_500']})"
        keys = ("throttled", "failures", "gave_up", "lost", "duplicated", "stuck", "cut_short")
        counted = [str(row["submitted"]), str(row["acknowledged"]), str(row["driven"])]
        return [name, rec, *counted, errors, *(str(row[k]) for k in keys)]

    lines = [cells(r, r["phase"]) for r in acc.rows] + [cells(acc.totals, "total")]
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        out += ["| " + " | ".join(line) + " |" for line in lines]
    else:
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
        out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
        out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    notes = [f"- {r['phase']}: {r['notes']}" for r in acc.rows if r["notes"]]
    out.append("")
    out.append(
        f"{acc.records} records read from the namespace's topics; {acc.dead_letters} dead letters; "
        f"{acc.alerts_checked} alert times passed and checked; {acc.totals['unexpected']} unexpected answers; "
        f"{acc.totals['drive_skipped']} cases due to be driven only submitted (the client's lifecycles all taken)."
    )
    out += notes
    for kind, found in acc.examples.items():
        if found:
            out.append(f"{kind} ({len(found)}), first ones:")
            out += [f"  - {line}" for line in found[:10]]
    return "\n".join(out)
