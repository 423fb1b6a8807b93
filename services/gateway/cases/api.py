"""The cases API for window clerks and kiosks: submit, follow, deliver and rate a case."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any, cast

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody

from services.gateway import access
from services.gateway.access import Action
from services.gateway.cases.schemas import (
    ApplicationIn,
    CaseView,
    SubmitApplication,
    sealed_agent,
    sealed_applicant,
)
from services.gateway.cases.timeline import current_state
from services.gateway.changes import answer_on_change
from services.gateway.context import Gateway, HallDep, Req, answer
from services.gateway.desk.dossier import Dossiers
from services.gateway.desk.prereview import PreSubmitted
from services.gateway.openapi import COMMAND, WAITABLE, Submitted, documented, success
from services.gateway.sla.board import SlaBoard
from services.gateway.steps.workbench import Workbench
from shared import topics
from shared.pii import Pii, for_settings

DossiersDep = NamedDependency[Dossiers]
WorkbenchDep = NamedDependency[Workbench]
SlaDep = NamedDependency[SlaBoard]


IDEMPOTENCY_TTL_S = 7 * 24 * 3600
SUBMIT_DESCRIPTION = """窗口人员或自助终端提交一份申请（单个事项或一件事）。受理场所取自登录用户所在场所。

- 201 受理：返回办件编号；容缺受理时列出待补齐材料（补齐期限由计时服务计算，见办件进度的 dossier）；一件事返回各子件。
- 200 待补正（一次告知）：一次列出全部缺少的材料及原因；已在申请人以往办件中提交过的可复用材料不再索要（reused）；
  一次性告知书有编号（notice_no，办件编号规则下的 YC 序列），留存备查，可在“我的办件”补打（/desk/notices/{notice_no}）。
- 代理人（agent：姓名、证件类型和号码、与申请人关系）：证件号码与申请人的一样校验（错误时 422 指出 agent.id_number），
  授权委托书成为必备材料（事项自有的委托书，或材料编码 WTS）；申请人仍是通知书的当事人；帮办代办填 helper_name。
- 422 不予受理：带 case_no 和 reason（不符合受理条件，或申请人在告知承诺失信名单上），并产生不予受理通知书。
- 422 输入有误：未知事项、事项没有的材料编码、证件号码校验位错误（指出哪一位）、补齐期限长于承诺时限等。
- 202 待预审（自助终端、网上、掌上渠道）：机器不能受理，申请带预审编号（prereview_no）和窗口人员将核对的要点（checks）
  进入本场所的预审队列，由窗口人员受理、一次告知或不予受理（POST /api/prereviews/{prereview_no}/decision）；
  事项的办理形式不含该渠道时 422（如“结婚登记仅限窗口办理”）；自助终端填写 refusal_reason 时 400。

带 Idempotency-Key 重试时不会产生第二个办件，返回第一次的答复；同一个键配不同的内容会被拒绝（422）。"""


def _digest(data: ApplicationIn, pii: Pii) -> str:
    """The body's keyed hash (it holds the applicant's ID number and phone: no plain hash of it is kept)."""
    return pii.lookup_hash(msgspec.json.encode(data).decode())


class CaseController(Controller):
    path = "/api/cases"
    tags = ("办件",)

    @post(
        "/",
        summary="申报并受理（一窗受理）",
        description=SUBMIT_DESCRIPTION,
        **documented(
            *COMMAND,
            reasons={
                400: "请求体有误（指出字段）；自助终端填写了不予受理理由（refusal_reason）",
                403: "无权申报",
                422: "不予受理（带 case_no、reason 和通知书），或输入有误（原因见 detail）",
            },
            own={
                200: success(
                    Submitted, "待补正（一次告知）：一次列出全部缺少的材料及原因（missing），可复用的材料（reused）"
                ),
                201: success(
                    Submitted, "受理：办件编号（case_no）、容缺待补齐材料（owed）、一件事的各子件（children）"
                ),
                202: success(
                    PreSubmitted, "待预审（自助终端等渠道）：预审编号（prereview_no）和窗口人员将核对的要点（checks）"
                ),
            },
        ),
    )
    async def submit(self, request: Req, data: JSONBody[ApplicationIn], hall: HallDep) -> Response[Any]:
        user = access.caller(hall, request, Action.SUBMIT)
        channel = access.check_submission(user, data.channel, data.refusal_reason)
        key = request.headers.get("idempotency-key")
        if key:
            await _claim_key(hall, user.id, key, _digest(data, for_settings(hall.settings)))
        # A retried request with the same key becomes the same command: intake answers it once.
        seed = f"{hall.settings.namespace}:{user.id}:{key}" if key else None
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, seed).hex if seed else None
        case_id = uuid.uuid5(uuid.NAMESPACE_OID, seed).hex if seed else uuid.uuid4().hex
        command = SubmitApplication(
            item_code=data.item_code,
            applicant=sealed_applicant(data.applicant, for_settings(hall.settings)),
            materials=data.materials,
            channel=channel,
            point=user.point,
            deferral_signed=data.deferral_signed,
            supplement_limit=data.supplement_limit,
            commitment_signed=data.commitment_signed,
            refusal_reason=data.refusal_reason,
            agent=sealed_agent(data.agent, for_settings(hall.settings)),
            helper_name=data.helper_name.strip(),
            project_code=data.project_code.strip(),
        )
        envelope, reply = await hall.bus.send(
            topics.INTAKE_COMMANDS, command, case_id=case_id, actor=user.actor, event_id=event_id
        )
        if reply is not None and not reply.ok and bytes(reply.body) != b"{}":
            # 不予受理: the refusal is a document (its number and reason), not only an error.
            body = {"status_code": reply.status, "detail": reply.reason, **msgspec.json.decode(reply.body)}
            return Response(body, status_code=reply.status)
        return answer(reply, envelope.event_id, case_id)

    @get(
        "/{case_no:str}",
        summary="办件进度与全程时间线",
        description="状态与时间线；登录的工作人员另可看到受理信息（dossier）：承诺办结时间、容缺待补齐材料及补齐期限、"
        "一件事各子件及其时限。时间由计时服务计算，未算出前为空。"
        "time_limit：办件时限的当前状态（正常/预警/逾期）与按工作日计的剩余时间（“剩余 1.5 个工作日”），"
        "计时前与办结后为空。"
        "依赖尚未公布放假安排年份的期限为暂定（provisional: true，provisional_years 列出年份）；"
        "该年放假安排公布后期限更正，时间线记“期限更正”，revised_from 为原暂定时间。"
        "须登录且有权查看该办件：本场所的窗口人员（旗政务服务中心可看全旗办件）、有本部门办理环节的审批人员、"
        "科室负责人、运维人员；其他人 403，未登录 401。"
        "申请人和自助终端凭办件编号和证件号码查询进度（GET /api/lookup）。"
        "等待变化：带上次答复的 ETag（If-None-Match）与 Prefer: wait=N（至多 30 秒），内容一有变化即答复，"
        "N 秒内无变化答 304；办件尚未登记时同样等待。",
        **documented(*WAITABLE),
    )
    async def show(
        self,
        *,
        request: Req,
        case_no: FromPath[str],
        hall: HallDep,
        dossiers: DossiersDep,
        workbench: WorkbenchDep,
        sla: SlaDep,
    ) -> Response[CaseView]:
        user = access.caller(hall, request, Action.CASE_READ)

        async def view(watch: Callable[[str], None]) -> CaseView:
            watch(case_no)
            case_id = await hall.case_id(case_no)
            watch(case_id)
            await access.check_case(
                hall, user, Action.CASE_READ, case_id, case_no, dossiers=dossiers, workbench=workbench
            )
            entries = await hall.timeline.entries(hall.redis, case_id)
            # Staff who act on the case see the applicant's ID number whole; operators see it masked.
            dossier = await dossiers.get(hall.redis, case_id, whole=user.role in ("clerk", "staff", "supervisor"))
            return CaseView(
                case_id=case_id,
                case_no=case_no,
                state=current_state(entries),
                timeline=entries,
                dossier=dossier,
                time_limit=await sla.case_limit(hall.redis, case_id),
            )

        return await answer_on_change(request, hall.changes, view)

    # 统一窗口出件 (POST /api/deliveries/{case_no}) lives in the delivery feature (services/gateway/delivery).
    # 好差评 (POST/GET /api/cases/{case_no}/ratings) lives in the ratings feature (services/gateway/ratings).


async def _claim_key(hall: Gateway, user_id: str, key: str, digest: str) -> None:
    """Remember which body an Idempotency-Key was first used with; a different body under it is refused."""
    slot = hall.settings.key("gateway", "idem", user_id, hashlib.sha256(key.encode()).hexdigest())
    if await hall.redis.set(slot, digest, nx=True, ex=IDEMPOTENCY_TTL_S):
        return
    first = cast("bytes | None", await hall.redis.get(slot))
    if first is not None and first.decode() != digest:
        raise HTTPException(
            status_code=422,
            detail="Idempotency-Key 已用于一份内容不同的申请：重试须与首次提交完全相同，新的申请请使用新的键",
        )
