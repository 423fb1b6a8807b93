"""Routing's handlers: one aggregate per case (keyed by the parent's case id), loaded, changed and saved in the
handled record's transaction, with the events the change publishes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from services.routing import external, steps, window
from services.routing.messages import (
    RETURN,
    SUSPENSION,
    CaseAccepted,
    CaseSuspended,
    ClaimStep,
    ClockAlerted,
    DecideExtension,
    DecideStep,
    EndSpecialProcedure,
    ExternalResult,
    HandedOver,
    HandoverReceived,
    Limit,
    MaterialsSupplemented,
    ReassignStep,
    RecordDelivery,
    RequestExtension,
    ResumeStep,
    SendHandover,
    StartSpecialProcedure,
    StepResumed,
    SupplementReturned,
)
from services.routing.model import RoutedCase
from services.routing.plan import open_case
from services.routing.steps import STRICT, ExtensionCap, Licence, Rules, Who
from shared import topics
from shared.catalogue import Catalogue, load_catalogue
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.replies import Refusal
from shared.settings import HallSettings

C = TypeVar("C", bound=msgspec.Struct)
Act = Callable[[RoutedCase, Envelope, C], list[msgspec.Struct]]
Handler = Callable[[Envelope, C, Txn], Awaitable[None]]

_case = msgspec.json.Decoder(RoutedCase)


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to a command that was carried out: which events it published."""

    case_no: str
    published: list[str]


class Supplemented(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to the applicant's 补正: the materials received and the steps that go on."""

    case_no: str
    received: list[str]
    resumed: list[StepResumed]
    complete: bool = True


def who(env: Envelope, cmd: Any) -> Who:
    """The acting person from the envelope; department (and role) as the gateway vouches in the command."""
    return Who(env.actor.id, env.actor.name or env.actor.id, cmd.department, getattr(cmd, "role", "staff"))


def rules_of(catalogue: Catalogue, item_code: str) -> Rules:
    """What the item's catalogue entry allows on its steps; an item it does not know gets the strict rules."""
    item = catalogue.get(item_code)
    if item is None:
        return STRICT
    cap = item.extension_rule
    return Rules(
        item_type=item.item_type,
        one_person=item.one_person,
        cap=ExtensionCap(count=cap.count, limit=Limit(cap.limit.value, cap.limit.unit), basis=cap.basis),
        special_procedures=tuple(item.special_procedures),
        return_limit=Limit(item.return_limit.value, item.return_limit.unit),
        licence=item.licence,
    )


class Routing:
    def __init__(self, settings: HallSettings, catalogue: Catalogue | None = None) -> None:
        self.settings = settings
        self.catalogue = catalogue or load_catalogue()
        self.events = settings.topic(topics.ROUTING_EVENTS)
        self.requests = settings.topic(topics.EXTERNAL_REQUESTS)
        self.receipt_limit = external.receipt_limit()  # 跨省通办: HALL_EXTERNAL_RECEIPT_LIMIT

    def table(self) -> HandlerTable:
        """Every route (a rebuild replays events and commands alike)."""
        return {**self.event_table(), **self.alert_table(), **self.command_table()}

    def event_table(self) -> HandlerTable:
        return {
            # intake's events
            "CaseAccepted.v1": Route(CaseAccepted, self.case_accepted),
            "MaterialsSupplemented.v1": Route(MaterialsSupplemented, self._event(_supplemented)),
            "CaseSuspended.v1": Route(CaseSuspended, self._event(_suspended)),
            # the other jurisdiction's answers
            "HandoverReceived.v1": Route(HandoverReceived, self._event(_received)),
            "ExternalResult.v1": Route(ExternalResult, self._event(_external_result)),
        }

    def alert_table(self) -> HandlerTable:
        """Timing's alerts on step clocks (read on a patient consumer: few of timing's records)."""
        return {"ClockAlerted.v1": Route(ClockAlerted, self._event(self._alerted))}

    def command_table(self) -> HandlerTable:
        """The gateway's commands (read on a consumer of their own)."""
        return {
            "ClaimStep.v1": Route(ClaimStep, self._command(self._claim)),
            "DecideStep.v1": Route(DecideStep, self._command(self._decide)),
            "ResumeStep.v1": Route(ResumeStep, self._command(_resume)),
            "ReassignStep.v1": Route(ReassignStep, self._command(self._reassign)),
            "StartSpecialProcedure.v1": Route(StartSpecialProcedure, self._command(self._start_special)),
            "EndSpecialProcedure.v1": Route(EndSpecialProcedure, self._command(_end_special)),
            "RequestExtension.v1": Route(RequestExtension, self._command(self._request_extension)),
            "DecideExtension.v1": Route(DecideExtension, self._command(self._decide_extension)),
            "RecordDelivery.v1": Route(RecordDelivery, self._command(_deliver)),
            "SupplementReturned.v1": Route(SupplementReturned, self.supplement_returned),
            "SendHandover.v1": Route(SendHandover, self._command(self._send_handover)),
        }

    # ------------------------------------------------------------ state and effects

    def _key(self, case_id: str) -> str:
        return self.settings.key("routing", "case", case_id)

    async def _load(self, txn: Txn, case_id: str) -> RoutedCase | None:
        raw = await txn.get(self._key(case_id))
        return None if raw is None else _case.decode(raw)

    def _save(self, txn: Txn, case: RoutedCase, published: list[msgspec.Struct]) -> None:
        txn.set(self._key(case.case_id), case)
        for event in published:
            txn.emit(self.events, event)
        # 跨省通办's handover also goes to the other jurisdiction, after the case's own events (a rebuild reads the
        # log topic by topic, routing.events first, and finds the same order)
        for event in published:
            if isinstance(event, HandedOver):
                txn.emit(self.requests, event)

    def _command(self, act: Act[C]) -> Handler[C]:
        async def handle(env: Envelope, cmd: C, txn: Txn) -> None:
            case = await self._load(txn, env.case_id)
            if case is None:
                txn.answer(404, f"办件 {env.case_id} 不存在或尚未分办")
                return
            try:
                published = act(case, env, cmd)
            except Refusal as refusal:
                txn.refuse(refusal)
                return
            self._save(txn, case, published)
            txn.answer(200, body=Answer(case_no=case.case_no, published=[type(e).__name__ for e in published]))

        return handle

    def _event(self, act: Act[C]) -> Handler[C]:
        """An event about a case routing may not know (yet, or ever): nothing happens then."""

        async def handle(env: Envelope, event: C, txn: Txn) -> None:
            case = await self._load(txn, env.case_id)
            if case is None:
                return
            before = msgspec.json.encode(case)
            published = act(case, env, event)
            if published or msgspec.json.encode(case) != before:
                self._save(txn, case, published)

        return handle

    # ------------------------------------------------------------ commands on a step, under the item's rules

    def _rules(self, case: RoutedCase, step_id: str) -> Rules:
        step = next((s for s in case.steps if s.step_id == step_id), None)
        return STRICT if step is None else rules_of(self.catalogue, case.track(step.track).item_code)

    def _claim(self, case: RoutedCase, env: Envelope, cmd: ClaimStep) -> list[msgspec.Struct]:
        return steps.claim(case, cmd.step_id, who(env, cmd), env.occurred_at, self._rules(case, cmd.step_id))

    def _decide(self, case: RoutedCase, env: Envelope, cmd: DecideStep) -> list[msgspec.Struct]:
        return steps.decide(
            case,
            cmd.step_id,
            action=cmd.action,
            opinion=cmd.opinion,
            who=who(env, cmd),
            at=env.occurred_at,
            materials=cmd.materials,
            rules=self._rules(case, cmd.step_id),
            licence=Licence(name=cmd.licence_name, number=cmd.licence_no, validity=cmd.validity),
        )

    def _reassign(self, case: RoutedCase, env: Envelope, cmd: ReassignStep) -> list[msgspec.Struct]:
        return steps.reassign(
            case,
            cmd.step_id,
            who(env, cmd),
            to_id=cmd.to_id,
            to_name=cmd.to_name,
            to_department=cmd.to_department,
            reason=cmd.reason,
            at=env.occurred_at,
            rules=self._rules(case, cmd.step_id),
        )

    def _start_special(self, case: RoutedCase, env: Envelope, cmd: StartSpecialProcedure) -> list[msgspec.Struct]:
        return steps.start_special(
            case,
            cmd.step_id,
            who(env, cmd),
            kind=cmd.kind,
            reason=cmd.reason,
            at=env.occurred_at,
            rules=self._rules(case, cmd.step_id),
        )

    def _request_extension(self, case: RoutedCase, env: Envelope, cmd: RequestExtension) -> list[msgspec.Struct]:
        return steps.request_extension(
            case,
            cmd.step_id,
            who(env, cmd),
            extension=cmd.extension,
            reason=cmd.reason,
            at=env.occurred_at,
            rules=self._rules(case, cmd.step_id),
        )

    def _decide_extension(self, case: RoutedCase, env: Envelope, cmd: DecideExtension) -> list[msgspec.Struct]:
        return steps.decide_extension(
            case,
            cmd.step_id,
            who(env, cmd),
            approve=cmd.approve,
            opinion=cmd.opinion,
            at=env.occurred_at,
            rules=self._rules(case, cmd.step_id),
        )

    def _alerted(self, case: RoutedCase, _: Envelope, event: ClockAlerted) -> list[msgspec.Struct]:
        """A step clock's alert escalates; the 逾期 of a return's limit or of a 容缺 suspension is 退件."""
        if event.purpose in (RETURN, SUSPENSION):
            step = next((s for s in case.steps if s.return_clock and s.return_clock == event.clock_id), None)
            rules = STRICT if step is None else rules_of(self.catalogue, case.track(step.track).item_code)
            return steps.lapse(
                case,
                event.clock_id,
                purpose=event.purpose,
                level=event.level,
                deadline=event.deadline,
                at=event.fired_at,
                rules=rules,
            )
        return steps.escalate(case, event.step_id or event.clock_id, event.level, event.deadline, event.fired_at)

    async def supplement_returned(self, env: Envelope, cmd: SupplementReturned, txn: Txn) -> None:
        """补正 by the applicant: answers what was received and which steps go on."""
        case = await self._load(txn, env.case_id)
        if case is None:
            txn.answer(404, f"办件 {env.case_id} 不存在或尚未分办")
            return
        try:
            published = steps.supplement_returned(case, cmd.materials, channel=cmd.channel, at=env.occurred_at)
        except Refusal as refusal:
            txn.refuse(refusal)
            return
        self._save(txn, case, published)
        resumed = [e for e in published if isinstance(e, StepResumed)]
        received = resumed[0].supplemented if resumed else []
        txn.answer(200, body=Supplemented(case_no=case.case_no, received=received, resumed=resumed))

    async def case_accepted(self, env: Envelope, event: CaseAccepted, txn: Txn) -> None:
        if await self._load(txn, env.case_id) is not None:
            return  # the same case accepted again (e.g. intake re-published it): routed once
        if event.cross_province:  # 跨省通办: received here, waits for the clerk to send it (services/routing/external)
            self._save(txn, external.open_case(env.case_id, event), [])
            return
        case, published = open_case(env.case_id, event, env.occurred_at)
        self._save(txn, case, published)

    def _send_handover(self, case: RoutedCase, env: Envelope, cmd: SendHandover) -> list[msgspec.Struct]:
        return external.send(case, cmd, env.occurred_at, self.receipt_limit)


# ---------------------------------------------------------------- what each event or command does to a case


def _supplemented(case: RoutedCase, env: Envelope, event: MaterialsSupplemented) -> list[msgspec.Struct]:
    return window.supplemented(case, event.materials, event.complete, env.occurred_at)


def _suspended(case: RoutedCase, _: Envelope, event: CaseSuspended) -> list[msgspec.Struct]:
    window.suspended(case, event.reason)
    return []


def _received(case: RoutedCase, _: Envelope, event: HandoverReceived) -> list[msgspec.Struct]:
    return external.received(case, event.external_case_no, event.received_at)


def _external_result(case: RoutedCase, _: Envelope, event: ExternalResult) -> list[msgspec.Struct]:
    return external.result(
        case,
        event.result,
        event.opinion,
        event.jurisdiction,
        event.decided_at,
        licence_name=event.licence_name,
        licence_no=event.licence_no,
    )


def _resume(case: RoutedCase, env: Envelope, cmd: ResumeStep) -> list[msgspec.Struct]:
    return steps.resume(case, cmd.step_id, who(env, cmd), cmd.opinion, env.occurred_at)


def _end_special(case: RoutedCase, env: Envelope, cmd: EndSpecialProcedure) -> list[msgspec.Struct]:
    return steps.end_special(case, cmd.step_id, who(env, cmd), result=cmd.result, at=env.occurred_at)


def _deliver(case: RoutedCase, env: Envelope, cmd: RecordDelivery) -> list[msgspec.Struct]:
    if case.status == "已退件":
        raise Refusal(409, f"办件 {case.case_no} 已退件（{'；'.join(case.reasons)}），没有办理结果可以出件")
    return window.deliver(case, cmd.method, cmd.address, env.occurred_at)
