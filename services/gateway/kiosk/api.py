"""The 24-hour kiosk (自助终端) and its API: supplement 容缺 materials, and look up a case's progress by its number
plus the applicant's ID number. Submitting goes through ``POST /api/cases`` like the window.

The lookup is also the public's one way to read a case (``access.PUBLIC``): without any token, by case number and
the applicant's whole ID number, and it shows progress only (no address, phone or staff names; the ID masked).
A wrong number answers 404 exactly like a case that does not exist, and each such 404 counts against the case
number (``limits.IdCheckAttempts``): after five an hour, 429 with ``Retry-After``, even for the right number."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template

from services.gateway import access
from services.gateway.access import NOT_FOUND, Action
from services.gateway.cases.schemas import MaterialsIn, SupplementMaterials
from services.gateway.cases.timeline import TimelineEntry, current_state
from services.gateway.context import Gateway, HallDep, Req
from services.gateway.desk.dossier import Dossiers
from services.gateway.desk.prereview import PreReviews, is_prereview_number
from services.gateway.openapi import COMMAND, Supplemented, documented, success
from services.gateway.sla.board import CaseLimit, SlaBoard
from services.gateway.steps.returns import owed_after_return
from services.gateway.steps.returns import supplement as supplement_returned
from services.gateway.users import User
from services.gateway.views import intake
from shared import topics

DossiersDep = NamedDependency[Dossiers]
PreReviewsDep = NamedDependency[PreReviews]
SlaDep = NamedDependency[SlaBoard]


class Step(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    summary: str


class ChildProgress(msgspec.Struct, frozen=True, kw_only=True):
    case_no: str
    item_name: str
    department: str
    stage: int
    stage_name: str
    promised_deadline: datetime | None
    provisional: bool = False


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """A case as the applicant may see it: no staff names, no address or phone, the ID number masked."""

    case_no: str
    item_name: str
    outcome: str
    state: str
    applicant_name: str
    id_masked: str
    at: datetime
    promised_deadline: datetime | None
    # 暂定: the deadline rests on a year whose official holiday schedule is not published yet.
    provisional: bool
    provisional_years: list[int]
    # Set once the official schedule corrected a provisional deadline: the time first announced.
    revised_from: datetime | None
    reason: str
    deferred: bool
    owed: list[intake.Material]
    supplement_deadline: datetime | None
    supplement_provisional: bool
    suspended: str
    children: list[ChildProgress]
    steps: list[Step]
    prereview_no: str = ""  # 预审编号 of a kiosk or online submission
    checks: list[str] = []  # 待预审: what the clerk will check
    notice_no: str = ""  # 预审 ended in 一次告知: the notice's number
    agent_name: str = ""  # 代理人 (the lookup takes the applicant's or the agent's ID number)
    returned: list[intake.Material] = []  # 退回补正: what the returned steps ask for, all at once
    return_deadline: datetime | None = None  # the return's limit; after it, 退件
    agent_id_masked: str = ""
    # The promised time now: 正常 / 预警 / 逾期 and the working days left ("剩余 1.5 个工作日"); None before timing
    # started the case's clock and once it stopped.
    time_limit: CaseLimit | None = None


def public_summary(entry: TimelineEntry) -> str:
    """A timeline line as the applicant sees it: no staff names, no postal address."""
    text = entry.summary
    if entry.type == "StepClaimed.v1":
        return text.partition("认领")[2] + "已认领" if "认领" in text else "审批环节已认领"
    if entry.type == "StepReassigned.v1":
        return text.partition("环节由")[0] + "环节已改派" if "环节由" in text else "审批环节已改派"
    if entry.type == "CaseDelivered.v1" and "：" in text:
        return text.partition("：")[0] + "）"
    return text


def _looker(hall: Gateway, request: Req) -> User | None:
    """Who looks a case up: nobody (the public, ``access.PUBLIC``), or a signed-in role the table lets look up;
    a token that is presented must be valid (401) and its role allowed (403)."""
    if hall.users.signed_in(request) is None and Action.LOOKUP in access.PUBLIC:
        return None
    return access.caller(hall, request, Action.LOOKUP)


class KioskController(Controller):
    tags = ("自助终端",)

    @get(
        "/api/lookup",
        summary="按办件编号和申请人（或代理人）证件号码查询进度（无需登录）",
        description="申请人（无需登录）、自助终端、窗口人员和运维人员凭办件编号和申请人或代理人的完整证件号码查询进度；"
        "只显示进度，不含地址、电话和工作人员姓名，证件号码打码。"
        "证件号码与办件申请人不符时，与办件不存在时一样答复 404，不透露任何信息；"
        "同一办件编号每小时核对失败 5 次后答复 429（Retry-After），正确的号码也须等待。"
        "带凭证时凭证须有效（否则 401），且角色须可查询（审批人员、科室负责人、评价器 403）。"
        "期限依赖尚未公布放假安排的年份时 provisional 为 true（暂定，以国务院公布的放假安排为准）。",
        **documented(
            401,
            404,
            public=True,
            reasons={
                401: "带了凭证，但凭证无效、过期、已注销或已被撤销（不带凭证即可查询）",
                403: "带凭证的角色不可查询（审批人员、科室负责人、评价器）",
                404: "未找到相符的办件：办件编号不存在，或证件号码不是该办件申请人的（计入核对失败次数）",
                429: "该办件编号证件号码核对失败次数过多（每小时 5 次），或请求过于频繁；Retry-After 给出等待秒数",
            },
        ),
    )
    async def lookup(
        self,
        *,
        request: Req,
        hall: HallDep,
        dossiers: DossiersDep,
        prereviews: PreReviewsDep,
        sla: SlaDep,
        case_no: FromQuery[str],
        id_number: FromQuery[str],
    ) -> Progress:
        user = _looker(hall, request)
        if is_prereview_number(case_no):  # 预审编号: the pre-review's state, or the case it became
            found = await prereview_progress(hall, prereviews, user, case_no.strip(), id_number)
            if isinstance(found, Progress):
                return found
            case_no = found
        case_id = await hall.timeline.case_id(hall.redis, case_no.strip())
        if case_id is None:
            raise NotFoundException(NOT_FOUND)
        if user is None:  # the public: the applicant's ID number is the only credential
            if not id_number or not await dossiers.belongs_to(hall.redis, case_id, id_number):
                raise NotFoundException(NOT_FOUND)
        else:
            await access.check_case(hall, user, Action.LOOKUP, case_id, case_no, dossiers=dossiers, id_number=id_number)
        dossier = await dossiers.get(hall.redis, case_id)
        if dossier is None:
            raise NotFoundException(NOT_FOUND)
        entries = await hall.timeline.entries(hall.redis, case_id)
        returned = await owed_after_return(hall, case_id, dossier.item_code)
        return Progress(
            returned=returned.materials,
            return_deadline=returned.deadline,
            case_no=dossier.case_no,
            item_name=dossier.item_name,
            outcome=dossier.outcome,
            state=current_state(entries),
            applicant_name=dossier.applicant_name,
            id_masked=dossier.id_masked,
            at=dossier.at,
            promised_deadline=dossier.promised_deadline,
            provisional=dossier.provisional,
            provisional_years=dossier.provisional_years,
            revised_from=dossier.revised_from,
            reason=dossier.reason,
            deferred=dossier.deferred,
            owed=dossier.owed,
            supplement_deadline=dossier.supplement_deadline,
            supplement_provisional=dossier.supplement_provisional,
            suspended=dossier.suspended,
            time_limit=await sla.case_limit(hall.redis, case_id),
            children=[
                ChildProgress(
                    case_no=c.case_no,
                    item_name=c.item_name,
                    department=c.department,
                    stage=c.stage,
                    stage_name=c.stage_name,
                    promised_deadline=c.promised_deadline,
                    provisional=c.provisional,
                )
                for c in dossier.children
            ],
            steps=[Step(at=e.at, summary=public_summary(e)) for e in entries],
            agent_name=dossier.agent_name,
            agent_id_masked=dossier.agent_id_masked,
        )

    @post(
        "/api/cases/{case_no:str}/materials",
        summary="补齐容缺材料，或补正退回的材料",
        description="容缺受理的办件补交材料（须在待补齐清单中）；办理环节退回补正的，补正退回清单中的全部材料，"
        "各退回环节恢复办理、恢复计时（同工作人员“恢复办理”，记为申请人补正）。"
        "自助终端须同时提供申请人证件号码（不符时 404）；"
        "窗口人员只能为本场所受理的办件补齐（旗政务服务中心：全旗办件），其他 403。"
        "全部补齐后，办理结果方可送达，补齐期限计时撤销；若已因逾期中止，则恢复办理。"
        "自助终端证件号码不符（404）计入该办件编号的核对失败次数，每小时 5 次后 429。",
        tags=("办件",),
        status_code=200,
        **documented(
            *COMMAND,
            own={200: success(Supplemented, "已补齐：收到的材料（received）、仍待补齐的（remaining），是否全部补齐")},
            reasons={
                404: "没有该办件；自助终端：未找到相符的办件（证件号码不符，计入核对失败次数）",
                409: "办件已不予受理、已退件（补正期限届满未补正），或没有待补齐、待补正的材料",
                422: "材料不在待补齐或退回补正清单中，退回补正的材料未一次补齐，或内容不合规（原因见 detail）",
            },
        ),
    )
    async def supplement(
        self, request: Req, hall: HallDep, dossiers: DossiersDep, case_no: FromPath[str], data: JSONBody[MaterialsIn]
    ) -> Response[Any]:
        user = access.caller(hall, request, Action.SUPPLEMENT)
        case_id = await hall.timeline.case_id(hall.redis, case_no)
        if case_id is None:
            raise NotFoundException(NOT_FOUND if user.role == "kiosk" else f"没有办件编号为 {case_no} 的办件")
        await access.check_case(
            hall, user, Action.SUPPLEMENT, case_id, case_no, dossiers=dossiers, id_number=data.id_number
        )
        # 补正 of a step returned (退回), or a case already 退件: routing answers (services/gateway/steps/returns.py).
        returned = await supplement_returned(hall, case_id, data.materials, user.actor, user.role)
        if returned is not None:
            return returned
        command = SupplementMaterials(materials=data.materials)
        return await hall.send(topics.INTAKE_COMMANDS, command, case_id, user.actor)

    @get("/kiosk", include_in_schema=False)
    async def page(self, request: Req, hall: HallDep) -> Template:
        user = hall.users.page_user(request, "kiosk", "clerk", "operator")
        return Template(template_name="kiosk/kiosk.html", context={"user": user})


async def prereview_progress(
    hall: Gateway, prereviews: PreReviews, user: User | None, number: str, id_number: str
) -> Progress | str:
    """A kiosk or online submission looked up by its 预审编号 and the applicant's ID number: its pre-review while it
    waits (or ended in 一次告知), else the number of the case it became (受理, 不予受理). A wrong ID is a 404 like an
    unknown number (and counts against it, ``limits.IdCheckAttempts``)."""
    if user is not None:
        access.require(user, Action.LOOKUP)
    view = await prereviews.get(hall.redis, number)
    if view is None or not await prereviews.belongs_to(hall.redis, number, id_number):
        raise NotFoundException(NOT_FOUND)
    if view.case_no:
        return view.case_no
    missing = "、".join(m.name for m in view.notified)
    reason = f"材料不全，请补齐后重新申请：{missing}" if view.status == "待补正" else ""
    summary = f"{view.item_name}已提交，等待窗口人员预审"
    steps = [Step(at=view.submitted_at, summary=summary)]
    if view.reviewed_at is not None:
        steps.append(Step(at=view.reviewed_at, summary=f"预审：{view.status}（一次告知书 {view.notice_no}）"))
    return Progress(
        case_no=view.prereview_no,
        item_name=view.item_name,
        outcome=view.status,
        state=view.status,
        applicant_name=view.applicant_name,
        id_masked=view.id_masked,
        at=view.submitted_at,
        promised_deadline=None,
        provisional=False,
        provisional_years=[],
        revised_from=None,
        reason=reason,
        deferred=False,
        owed=[],
        supplement_deadline=None,
        supplement_provisional=False,
        suspended="",
        children=[],
        steps=steps,
        prereview_no=view.prereview_no,
        checks=view.checks if view.status == "待预审" else [],
        notice_no=view.notice_no,
    )
