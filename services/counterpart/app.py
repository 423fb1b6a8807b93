"""The other jurisdiction of 跨省通办, in demo mode: a process of its own that answers as a counterpart would.

It reads ``HandedOver`` on ``external.requests`` and, after ``HALL_COUNTERPART_DELAY_S`` seconds (5 by default),
confirms receipt with ``HandoverReceived`` on ``external.events``; once it sees its own receipt there, it waits as
long again and sends its decision, ``ExternalResult`` (准予 with the item's licence, by default) — the Kafka
contract a real exchange with another province's platform keeps, and the same messages the gateway's adapter
(``POST /api/external/{jurisdiction}/events``) publishes for a real platform or an operator's entry. Each answer
carries the counterpart's own ``reference``; routing treats a repeated one as nothing new. The jurisdictions named
in ``HALL_COUNTERPART_SILENT`` never answer (to see the missing-receipt alert).

``./hall up`` runs it unless ``HALL_COUNTERPART=off``; production halls switch it off and configure the real
platforms' keys for the adapter instead (README, 跨省通办).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from opentelemetry.sdk.trace import SpanProcessor

from services.counterpart.messages import ExternalResult, HandedOver, HandoverReceived, Result
from shared import topics
from shared.catalogue import Catalogue, load_catalogue
from shared.envelope import Actor, Envelope
from shared.kafka import Route, ServiceRuntime
from shared.outbox import Txn
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "counterpart"
SWITCH_VARIABLE = "HALL_COUNTERPART"  # "off" (or 0/false/no): ./hall up does not start the demo counterpart
DELAY_VARIABLE = "HALL_COUNTERPART_DELAY_S"
SILENT_VARIABLE = "HALL_COUNTERPART_SILENT"  # jurisdictions that never answer (e.g. "河北省,山西省"): shows the alert
DEFAULT_DELAY_S, MOST_DELAY_S = 5.0, 120.0
Decision = Callable[[HandedOver], tuple[Result, str]]


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether ``./hall up`` runs the demo counterpart: yes unless ``HALL_COUNTERPART`` switches it off."""
    value = (os.environ if environ is None else environ).get(SWITCH_VARIABLE, "on").strip().lower()
    return value not in ("off", "0", "false", "no")


def delay_s(environ: dict[str, str] | None = None) -> float:
    raw = (os.environ if environ is None else environ).get(DELAY_VARIABLE, "").strip()
    try:
        delay = float(raw) if raw else DEFAULT_DELAY_S
    except ValueError as exc:
        raise ValueError(f"{DELAY_VARIABLE}={raw!r}：应为秒数，如 5") from exc
    return min(max(delay, 0.0), MOST_DELAY_S)


def silent_from(environ: dict[str, str] | None = None) -> frozenset[str]:
    raw = (os.environ if environ is None else environ).get(SILENT_VARIABLE, "")
    return frozenset(j.strip() for j in raw.replace("，", ",").split(",") if j.strip())


def grant(_: HandedOver) -> tuple[Result, str]:
    return "准予", "经审查，符合条件"


def clerk_of(jurisdiction: str) -> Actor:
    return Actor(kind="system", id=f"{SERVICE}:{jurisdiction}", name=f"{jurisdiction}政务服务中心")


def build(
    settings: HallSettings,
    spans: SpanProcessor | None = None,
    decide: Decision = grant,
    *,
    delay: float | None = None,
    catalogue: Catalogue | None = None,
    silent: frozenset[str] | None = None,
) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    runtime.publications.declare(topics.EXTERNAL_EVENTS, HandoverReceived, ExternalResult)
    answers = settings.topic(topics.EXTERNAL_EVENTS)
    wait = delay_s() if delay is None else delay
    known = catalogue or load_catalogue()
    quiet = silent_from() if silent is None else silent
    handed: dict[str, HandedOver] = {}  # what was handed over, by case no (for the decision after the receipt)

    async def handed_over(env: Envelope, case: HandedOver, txn: Txn) -> None:
        if case.jurisdiction in quiet:
            return  # a counterpart that never confirms: the hall's receipt clock alerts its operators
        await asyncio.sleep(wait)
        clerk = clerk_of(case.jurisdiction)
        handed[case.case_no] = case
        received = HandoverReceived(
            case_no=case.case_no,
            jurisdiction=case.jurisdiction,
            external_case_no=f"EXT-{case.case_no}",
            receiver=clerk.name,
            received_at=env.occurred_at,
            reference=f"{case.case_no}:received",
        )
        txn.emit(answers, received, actor=clerk)

    async def received(env: Envelope, receipt: HandoverReceived, txn: Txn) -> None:
        if env.actor.id != f"{SERVICE}:{receipt.jurisdiction}":
            return  # another platform's (or an operator's) receipt: not ours to decide
        await asyncio.sleep(wait)
        case = handed.pop(receipt.case_no, None)
        if case is None:
            case = HandedOver(
                case_no=receipt.case_no, jurisdiction=receipt.jurisdiction, handed_over_at=receipt.received_at
            )
        result, opinion = decide(case)
        item = known.get(case.item_code)
        licence = item.licence if item is not None and result == "准予" else ""
        decided = ExternalResult(
            case_no=receipt.case_no,
            jurisdiction=receipt.jurisdiction,
            result=result,
            opinion=opinion,
            decided_at=receipt.received_at,
            reference=f"{receipt.case_no}:result",
            licence_name=licence,
            licence_no=f"{receipt.external_case_no}-证" if licence else "",
        )
        txn.emit(answers, decided, actor=clerk_of(receipt.jurisdiction))

    runtime.subscribe(
        [topics.EXTERNAL_REQUESTS, topics.EXTERNAL_EVENTS],
        {"HandedOver.v1": Route(HandedOver, handed_over), "HandoverReceived.v1": Route(HandoverReceived, received)},
    )
    return runtime
