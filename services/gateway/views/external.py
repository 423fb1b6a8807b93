"""The gateway's views of the other jurisdiction's events (``external.events``, 跨省通办): its receipt and its
decision, from its platform (services/counterpart) or an operator's entry at the gateway, which publishes them."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import msgspec


class HandoverReceived(msgspec.Struct, frozen=True, kw_only=True):
    """The other jurisdiction's receipt (external.events), from its platform or an operator's entry."""

    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str
    external_case_no: str = ""
    receiver: str = ""
    received_at: datetime
    reference: str = ""


class ExternalResult(msgspec.Struct, frozen=True, kw_only=True):
    """The other jurisdiction's decision (external.events), from its platform or an operator's entry."""

    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str
    result: str
    opinion: str = ""
    decided_at: datetime
    reference: str = ""
    licence_name: str = ""
    licence_no: str = ""
