"""What the demo counterpart reads and sends: its own view of the hall's ``HandedOver`` and the two answers of the
other jurisdiction's platform, as the hall's contract has them (the demo never imports the hall's services)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

Result = Literal["准予", "不予"]


class HandedOver(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    item_code: str = ""
    item_name: str = ""
    jurisdiction: str
    handed_over_at: datetime
    tracking_no: str = ""


class HandoverReceived(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str
    external_case_no: str = ""
    receiver: str = ""
    received_at: datetime
    reference: str = ""


class ExternalResult(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    case_no: str
    jurisdiction: str
    result: Result
    opinion: str = ""
    decided_at: datetime
    reference: str = ""
    licence_name: str = ""
    licence_no: str = ""
