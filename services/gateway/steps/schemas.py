"""Request and response bodies for department steps, and the command the gateway publishes for them."""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from services.gateway.context import In
from services.gateway.steps.inbox import InboxStep


class DecisionIn(In, frozen=True, forbid_unknown_fields=True):
    action: Literal["通过", "不予许可"]
    opinion: str


class InboxView(msgspec.Struct, frozen=True, kw_only=True):
    department: str
    steps: list[InboxStep]


class DecideStep(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    step_id: str
    action: str
    opinion: str
    department: str
