"""What the 跨省通办 desk publishes itself: the command that sends a case to the other jurisdiction (routing reads
it). The events it reads are declared once in ``services.gateway.views``."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from services.gateway.views.intake import Material


class SendHandover(msgspec.Struct, frozen=True, kw_only=True):
    """跨省通办: the clerk sent the case (routing.commands); routing answers with ``HandedOver``."""

    version: ClassVar[int] = 1
    method: str
    tracking_no: str
    materials: list[Material] = []
    department: str = ""
