"""跨省通办 at the gateway: the desk's list and handover, the operators' entry of answers given by phone or mail,
and the adapter the other jurisdictions' platforms call (``POST /api/external/{jurisdiction}/events``).

The adapter authenticates the platform by its jurisdiction's key (``X-External-Key``, services/gateway/external/
keys.py; none configured: every call refused), checks that the case was handed over to that jurisdiction, and
publishes ``HandoverReceived`` or ``ExternalResult`` on ``external.events`` with an event id derived from the
platform's reference: a replay of a reference is answered as the first call was and publishes nothing; the
same reference with other content is a 409.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from aiokafka.errors import KafkaError
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import Template

from services.gateway import access
from services.gateway.access import Action
from services.gateway.bus import KafkaUnavailable
from services.gateway.context import Gateway, HallDep, In, Req
from services.gateway.desk.dossier import Dossiers
from services.gateway.external.events import SendHandover
from services.gateway.external.keys import HEADER, ExternalKeys
from services.gateway.external.store import CrossCase, CrossCases, Recorded, fingerprint
from services.gateway.openapi import COMMAND, EXTERNAL_KEY, Carried, documented, success
from services.gateway.users import User
from services.gateway.views.external import ExternalResult, HandoverReceived
from services.gateway.views.intake import Material
from shared import topics
from shared.clock import SYSTEM_CLOCK
from shared.envelope import Actor, encode, wrap
from shared.localtime import when
from shared.producer import OutRecord

CrossCasesDep = NamedDependency[CrossCases]
KeysDep = NamedDependency[ExternalKeys]
DossiersDep = NamedDependency[Dossiers]
PAGE_SIZE, MOST_PER_PAGE = 50, 200
_IDS = uuid.UUID("6f1c1c9e-0d5b-4a43-9d51-5b1f2a0c7e11")  # the namespace of the answers' event ids


class Conflict(ClientException):
    status_code = 409


class HandoverIn(In, frozen=True, forbid_unknown_fields=True):
    method: Literal["电子推送", "邮寄原件"]
    tracking_no: Annotated[str, msgspec.Meta(max_length=64)]


class AnswerIn(In, frozen=True, forbid_unknown_fields=True):
    """One message of the other jurisdiction: its receipt (接收) or its decision (结果)."""

    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]  # their own id of this message
    kind: Literal["接收", "结果"]
    case_no: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    external_case_no: Annotated[str, msgspec.Meta(max_length=64)] = ""  # their case number (接收)
    receiver: Annotated[str, msgspec.Meta(max_length=64)] = ""
    result: Literal["准予", "不予"] | None = None  # 结果
    opinion: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    licence_name: Annotated[str, msgspec.Meta(max_length=64)] = ""
    licence_no: Annotated[str, msgspec.Meta(max_length=64)] = ""
    at: datetime | None = None  # when it happened there; now when absent


class ManualAnswerIn(In, frozen=True, forbid_unknown_fields=True):
    """An operator's entry of what the other jurisdiction said by phone or mail (``channel``)."""

    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]  # 来电/来函记录号 or their number
    kind: Literal["接收", "结果"]
    channel: Literal["电话", "邮件", "信函"]
    external_case_no: Annotated[str, msgspec.Meta(max_length=64)] = ""
    result: Literal["准予", "不予", ""] = ""
    opinion: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    licence_name: Annotated[str, msgspec.Meta(max_length=64)] = ""
    licence_no: Annotated[str, msgspec.Meta(max_length=64)] = ""


class CrossCasesView(msgspec.Struct, frozen=True, kw_only=True):
    cases: list[CrossCase]
    total: int
    page: int
    size: int
    overdue_receipts: int = 0  # on this page: handed over, no receipt past the receipt clock's alert


def _paging(page: int, size: int) -> None:
    if page < 1:
        raise ValidationException(f"page 须为不小于 1 的整数，收到 {page}")
    if not 1 <= size <= MOST_PER_PAGE:
        raise ValidationException(f"size 须在 1 到 {MOST_PER_PAGE} 之间，收到 {size}")


async def _visible(hall: Gateway, dossiers: Dossiers, user: User, cases: list[CrossCase]) -> list[CrossCase]:
    """A clerk sees the cases of their own point (the banner hall: all), an operator all of them."""
    if access.rule(user, Action.EXTERNAL) is not access.Rule.OWN_POINT or user.point == access.BANNER_HALL:
        return cases
    shown = []
    for case in cases:
        dossier = await dossiers.get(hall.redis, case.case_id)
        if dossier is not None and access.at_point(user, dossier):
            shown.append(case)
    return shown


def _event(case: CrossCase, jurisdiction: str, data: AnswerIn, at: datetime) -> HandoverReceived | ExternalResult:
    if data.kind == "接收":
        return HandoverReceived(
            case_no=case.case_no,
            jurisdiction=jurisdiction,
            external_case_no=data.external_case_no.strip(),
            receiver=data.receiver.strip(),
            received_at=at,
            reference=data.reference.strip(),
        )
    if data.result is None:
        raise ValidationException("kind 为“结果”时须填写 result（准予或不予）")
    if data.result == "不予" and not data.opinion.strip():
        raise ValidationException("不予的结果须写明理由（opinion），以便窗口告知申请人")
    return ExternalResult(
        case_no=case.case_no,
        jurisdiction=jurisdiction,
        result=data.result,
        opinion=data.opinion.strip(),
        decided_at=at,
        reference=data.reference.strip(),
        licence_name=data.licence_name.strip(),
        licence_no=data.licence_no.strip(),
    )


async def record_answer(
    hall: Gateway, cases: CrossCases, jurisdiction: str, data: AnswerIn, actor: Actor
) -> Response[Recorded]:
    """Publishes the other jurisdiction's message once per reference; a replay gets the first answer."""
    reference = data.reference.strip()
    if not reference:
        raise ValidationException("reference 不能为空：请填写对方平台的消息编号")
    first = await cases.recorded(hall.redis, jurisdiction, reference)
    case_id = await hall.timeline.case_id(hall.redis, data.case_no)
    case = None if case_id is None else await cases.get(hall.redis, case_id)
    if case is None or case.jurisdiction != jurisdiction:
        raise NotFoundException(f"没有移交给{jurisdiction}的办件 {data.case_no}")
    at = (data.at or SYSTEM_CLOCK.now()).astimezone()
    event = _event(case, jurisdiction, data, at)
    if first is not None:
        if first.fingerprint != fingerprint(event) or first.case_no != case.case_no:
            raise Conflict(f"对方消息编号 {reference} 已用于另一条内容不同的消息，不能重复使用")
        return Response(first, status_code=200)
    if case.status == "待移交":
        raise Conflict(f"办件 {case.case_no} 尚未移交{jurisdiction}，不能记录对方的接收或结果")
    event_id = uuid.uuid5(_IDS, f"{jurisdiction}\x1f{reference}").hex
    envelope = wrap(event, case_id=case.case_id, actor=actor, event_id=event_id)
    topic = hall.settings.topic(topics.EXTERNAL_EVENTS)
    hall.bus.publications.check(topic, event)
    record = OutRecord(topic, case.case_id.encode(), encode(envelope))
    try:
        await hall.bus.producer.send_all(hall.bus.broker, [record], within=hall.settings.publish_timeout_s)
    except KafkaError as exc:  # not taken in time: 503 with Retry-After; the same reference may be sent again
        raise KafkaUnavailable(hall.settings.retry_after_s, type(exc).__name__) from exc
    answer = Recorded(
        reference=reference, case_no=case.case_no, kind=data.kind, event_id=event_id, fingerprint=fingerprint(event)
    )
    await cases.remember(hall.redis, jurisdiction, answer)
    return Response(answer, status_code=200)


def platform_actor(jurisdiction: str) -> Actor:
    return Actor(kind="system", id=f"external:{jurisdiction}", name=f"{jurisdiction}政务服务平台")


class ExternalController(Controller):
    tags = ("跨省通办",)

    @post(
        "/api/external/{jurisdiction:str}/events",
        summary="外省平台回传：接收回执、办理结果",
        status_code=200,
        description=(
            "办理地（外省）政务服务平台回传移交件的接收回执（kind=接收）和办理结果（kind=结果）。以请求头 "
            f"{HEADER} 携带本大厅为该省配置的密钥（HALL_EXTERNAL_KEYS_FILE / HALL_EXTERNAL_KEYS），未配置任何密钥时"
            "一律拒绝。reference 为对方平台的消息编号：同一编号重复发送答复相同、不重复处理；同一编号内容不同则 409。"
            "只能回传移交给本省的办件（否则 404），办件尚未移交时 409。"
        ),
        **{
            **documented(
                404,
                409,
                reasons={
                    401: f"{HEADER} 缺失或不符",
                    403: "本大厅未配置外省平台密钥：接口不可用",
                    422: "内容不合规（如隐藏字符，或“结果”缺少 result、不予缺少理由）",
                },
            ),
            "security": [{EXTERNAL_KEY: []}],
        },
    )
    async def platform_event(
        self,
        request: Request[Any, Any, Any],
        jurisdiction: FromPath[str],
        data: JSONBody[AnswerIn],
        hall: HallDep,
        *,
        external_cases: CrossCasesDep,
        external_keys: KeysDep,
    ) -> Response[Recorded]:
        keys, cases = external_keys, external_cases
        if not keys.configured:
            raise PermissionDeniedException("本大厅未配置外省平台密钥（HALL_EXTERNAL_KEYS_FILE），回传接口不可用")
        if not keys.valid(jurisdiction, request.headers.get(HEADER)):
            raise NotAuthorizedException(f"{HEADER} 缺失或与{jurisdiction}的密钥不符")
        return await record_answer(hall, cases, jurisdiction, data, platform_actor(jurisdiction))

    @get(
        "/api/external/cases",
        summary="跨省通办代收件：移交、接收、结果",
        description=(
            "本大厅代收、移交外省办理的办件，最新受理的在前，分页（page 从 1 起，size 默认 "
            f"{PAGE_SIZE}、至多 {MOST_PER_PAGE}）。移交后超过接收时限（HALL_EXTERNAL_RECEIPT_LIMIT，默认 2 个工作日）"
            "仍未收到对方接收回执的，alerts 列出计时预警、逾期。窗口人员看到本场所受理的，运维人员看到全部。"
        ),
        **documented(),
    )
    async def listing(
        self,
        request: Req,
        hall: HallDep,
        external_cases: CrossCasesDep,
        dossiers: DossiersDep,
        *,
        page: Annotated[int, Parameter(description="页码，从 1 起", schema_extra={"minimum": 1})] = 1,
        size: Annotated[int, Parameter(description="每页件数", schema_extra={"minimum": 1, "maximum": 200})] = 50,
    ) -> CrossCasesView:
        user = access.caller(hall, request, Action.EXTERNAL)
        _paging(page, size)
        found, total = await external_cases.page(hall.redis, page, size)
        shown = await _visible(hall, dossiers, user, found)
        overdue = sum(1 for c in shown if c.overdue_receipt)
        return CrossCasesView(cases=shown, total=total, page=page, size=size, overdue_receipts=overdue)

    @post(
        "/api/external/cases/{case_no:str}/handover",
        summary="跨省通办移交：推送电子材料或寄出原件",
        status_code=200,
        description=(
            "窗口人员审查后推送电子材料或寄出原件，记录运单号（推送回执号）。审批服务发布 HandedOver（external."
            "requests），本地计时（移交时限）到此为止，并开始等待对方接收回执。"
        ),
        **documented(
            *COMMAND,
            own={200: success(Carried, "已移交：审批服务发布的事件（published）")},
            reasons={409: "不是跨省通办代收件，或已移交", 422: "未填写运单号（推送回执号）"},
        ),
    )
    async def handover(
        self,
        request: Req,
        case_no: FromPath[str],
        data: JSONBody[HandoverIn],
        hall: HallDep,
        *,
        external_cases: CrossCasesDep,
        dossiers: DossiersDep,
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.HANDOVER)
        case_id = await hall.case_id(case_no)
        await access.check_case(hall, user, Action.HANDOVER, case_id, case_no, dossiers=dossiers)
        case = await external_cases.get(hall.redis, case_id)
        if case is None:  # not 跨省 (or the list has not seen its acceptance yet): nothing to hand over
            raise Conflict(f"办件 {case_no} 不是跨省通办代收件（或刚受理、尚未列入代收件清单，请稍后再试）")
        materials = [Material(m.code, m.name) for m in case.materials]
        command = SendHandover(
            method=data.method, tracking_no=data.tracking_no.strip(), materials=materials, department=user.department
        )
        return await hall.send(topics.ROUTING_COMMANDS, command, case_id, user.actor)

    @post(
        "/api/external/cases/{case_no:str}/answers",
        summary="代录外省的接收回执或办理结果（电话、邮件）",
        status_code=200,
        description=(
            "对方没有对接平台时，运维人员按电话、邮件或信函代为记录。与平台回传相同：reference 为来电/来函记录号，"
            "同一编号重复提交答复相同、不重复处理。"
        ),
        **documented(404, 409, reasons={422: "内容不合规（如隐藏字符，或“结果”缺少 result、不予缺少理由）"}),
    )
    async def answer(
        self,
        request: Req,
        case_no: FromPath[str],
        data: JSONBody[ManualAnswerIn],
        hall: HallDep,
        external_cases: CrossCasesDep,
    ) -> Response[Recorded]:
        user = access.caller(hall, request, Action.EXTERNAL_RECORD)
        case_id = await hall.case_id(case_no)
        case = await external_cases.get(hall.redis, case_id)
        if case is None or not case.jurisdiction:
            raise Conflict(f"办件 {case_no} 不是跨省通办代收件，没有外省的答复可记录")
        body = AnswerIn(
            reference=f"{data.channel}:{data.reference.strip()}",
            kind=data.kind,
            case_no=case_no,
            external_case_no=data.external_case_no,
            receiver=f"{case.jurisdiction}（{data.channel}告知，{user.name}代录）",
            result=data.result or None,
            opinion=data.opinion,
            licence_name=data.licence_name,
            licence_no=data.licence_no,
        )
        return await record_answer(hall, external_cases, case.jurisdiction, body, user.actor)

    @get("/ops/external", include_in_schema=False)
    async def page(
        self,
        request: Req,
        hall: HallDep,
        external_cases: CrossCasesDep,
        dossiers: DossiersDep,
        *,
        page: FromQuery[int] = 1,
    ) -> Template:
        user = hall.users.page_user(request, *access.roles(Action.EXTERNAL))
        page = max(1, page)
        found, total = await external_cases.page(hall.redis, page, PAGE_SIZE)
        shown = await _visible(hall, dossiers, user, found)
        pages = max(1, -(-total // PAGE_SIZE))
        context = {
            "user": user,
            "cases": shown,
            "total": total,
            "page": page,
            "pages": pages,
            "when": when,
            "may_send": access.may(user, Action.HANDOVER),
            "may_record": access.may(user, Action.EXTERNAL_RECORD),
            "overdue": sum(1 for c in shown if c.overdue_receipt),
        }
        return Template(template_name="external/cases.html", context=context)
