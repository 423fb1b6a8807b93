"""Request and response bodies of the delivery desk, and the command it sends to routing."""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from services.gateway.context import In
from services.gateway.delivery.ready import CaseAtWindow


class DeliverIn(In, frozen=True, forbid_unknown_fields=True):
    method: Literal["窗口", "邮寄"]
    address: str = ""  # required for 邮寄


class DeliveriesView(msgspec.Struct, frozen=True, kw_only=True):
    items: list[CaseAtWindow]  # this page of the caller's point's cases, oldest 办结 first
    next_cursor: str | None = None  # absent on the last page
    total: int = 0  # every ready case of the caller's point


class RecordDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """统一窗口出件, as routing accepts it: refused while 容缺 materials are owed or before 办结."""

    version: ClassVar[int] = 1
    method: str
    address: str
