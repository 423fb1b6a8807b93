"""The one event envelope every Kafka record of the hall carries.

Evolution is additive: new payload fields get defaults; a breaking change is a new version of the type tag.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from shared.clock import SYSTEM_CLOCK
from shared.upcast import UPCASTERS

ActorKind = Literal[
    "clerk", "staff", "supervisor", "hall-supervisor", "kiosk", "pad", "applicant", "operator", "system"
]


class Actor(msgspec.Struct, frozen=True):
    """Who did it: a clerk, staff or their supervisor, a kiosk or rating pad, an applicant, an operator, the system."""

    kind: ActorKind
    id: str
    name: str = ""


SYSTEM = Actor(kind="system", id="system", name="系统")


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """One event or command. ``type`` is ``Name.vN``; ``case_id`` is also the Kafka key."""

    event_id: str
    type: str
    case_id: str
    actor: Actor
    occurred_at: datetime
    payload: msgspec.Raw
    # The command (or event) this one answers or follows from; empty for a first command.
    causation_id: str = ""


def new_event_id() -> str:
    return uuid.uuid4().hex


def now() -> datetime:
    return SYSTEM_CLOCK.now()


def type_tag(payload: msgspec.Struct | type[msgspec.Struct]) -> str:
    """``CaseAccepted.v1`` from the struct's class name and its ``version`` class attribute."""
    kind = payload if isinstance(payload, type) else type(payload)
    return f"{kind.__name__}.v{getattr(kind, 'version', 1)}"


def wrap(
    payload: msgspec.Struct,
    *,
    case_id: str,
    actor: Actor,
    causation_id: str = "",
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    return Envelope(
        event_id=event_id or new_event_id(),
        type=type_tag(payload),
        case_id=case_id,
        actor=actor,
        occurred_at=occurred_at or now(),
        payload=msgspec.Raw(msgspec.json.encode(payload)),
        causation_id=causation_id,
    )


_decoder = msgspec.json.Decoder(Envelope)


def encode(envelope: Envelope) -> bytes:
    return msgspec.json.encode(envelope)


def decode(data: bytes) -> Envelope:
    """Decode a record value, upcast to its newest tag version (:mod:`shared.upcast`).

    Raises ``msgspec.DecodeError``/``ValidationError`` on a malformed one.
    """
    envelope = _decoder.decode(data)
    tag, payload = UPCASTERS.apply(envelope.type, envelope.payload)
    if tag == envelope.type:
        return envelope
    return msgspec.structs.replace(envelope, type=tag, payload=msgspec.Raw(payload))
