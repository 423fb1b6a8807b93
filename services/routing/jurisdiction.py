"""A stand-in for the other jurisdiction of 跨省通办, for tests and demonstrations.

It reads ``HandedOver`` on ``external.requests`` and answers on ``external.events`` with ``HandoverReceived`` and
then ``ExternalResult`` — the contract a real exchange with another province's platform must keep. Its
decision is a function of the handed-over case (grant everything, by default).
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.sdk.trace import SpanProcessor

from services.routing.messages import ExternalResult, HandedOver, HandoverReceived, Result
from shared import topics
from shared.envelope import Actor, Envelope
from shared.kafka import Route, ServiceRuntime
from shared.outbox import Txn
from shared.settings import HallSettings
from shared.telemetry import tracer_provider

SERVICE = "jurisdiction"
Decision = Callable[[HandedOver], tuple[Result, str]]


def grant(_: HandedOver) -> tuple[Result, str]:
    return "准予", "经审查，符合条件"


def build(settings: HallSettings, spans: SpanProcessor | None = None, decide: Decision = grant) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, SERVICE, tracer_provider(settings, SERVICE, spans))
    runtime.publications.declare(topics.EXTERNAL_EVENTS, HandoverReceived, ExternalResult)
    answers = settings.topic(topics.EXTERNAL_EVENTS)

    async def handed_over(env: Envelope, case: HandedOver, txn: Txn) -> None:
        clerk = Actor(kind="system", id=f"{SERVICE}:{case.jurisdiction}", name=f"{case.jurisdiction}政务服务中心")
        external_no = f"EXT-{case.case_no}"
        received = HandoverReceived(
            case_no=case.case_no,
            jurisdiction=case.jurisdiction,
            external_case_no=external_no,
            receiver=clerk.name,
            received_at=env.occurred_at,
        )
        txn.emit(answers, received, actor=clerk)
        result, opinion = decide(case)
        txn.emit(
            answers,
            ExternalResult(
                case_no=case.case_no,
                jurisdiction=case.jurisdiction,
                result=result,
                opinion=opinion,
                decided_at=env.occurred_at,
            ),
            actor=clerk,
        )

    runtime.subscribe([topics.EXTERNAL_REQUESTS], {"HandedOver.v1": Route(HandedOver, handed_over)})
    return runtime
