"""The case at the window: 容缺 materials owed, supplements, suspension, and 统一窗口出件; pure, no I/O."""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.routing.messages import CaseDelivered, DeliveryMethod, Material
from services.routing.model import Delivery, RoutedCase
from services.routing.progress import results
from services.routing.steps import resume_returned
from shared.localtime import local
from shared.replies import Refusal


def supplemented(
    case: RoutedCase, materials: list[str | Material], complete: bool, at: datetime
) -> list[msgspec.Struct]:
    """补正/补齐 at the window: owed materials are struck off (all of them when ``complete``); the case goes on."""
    codes = {m if isinstance(m, str) else m.code for m in materials}
    case.owed = [] if complete else [m for m in case.owed if m.code not in codes]
    case.suspended = ""
    if case.status != "办理中":
        return []
    return resume_returned(case, "申请人已补正材料", at)


def suspended(case: RoutedCase, reason: str) -> None:
    """容缺 materials not brought in time: no step may be decided until they are."""
    if case.status == "办理中":
        case.suspended = reason or "容缺材料逾期未补齐"


def deliver(case: RoutedCase, method: DeliveryMethod, address: str, at: datetime) -> list[msgspec.Struct]:
    if case.status == "办理中":
        raise Refusal(409, f"办件 {case.case_no} 尚未办结，不能出件")
    if case.delivery is not None:
        raise Refusal(409, f"办件 {case.case_no} 已于 {local(case.delivery.at)} 出件，不能重复出件")
    if case.owed and case.result == "准予":  # a refusal is handed out with its reasons all the same
        owed = "、".join(m.name or m.code for m in case.owed)
        raise Refusal(409, f"容缺受理的材料尚未补齐（{owed}），补齐后才能出件")
    if method == "邮寄" and not address.strip():
        raise Refusal(422, "邮寄送达须填写收件地址")
    assert case.result is not None  # 已办结 always has its result
    case.status, case.delivery = "已出件", Delivery(method=method, address=address.strip(), at=at)
    return [
        CaseDelivered(
            case_no=case.case_no,
            method=method,
            address=address.strip(),
            result=case.result,
            reasons=case.reasons,
            delivered_at=at,
            items=results(case),
        )
    ]
