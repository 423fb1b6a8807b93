"""Who may do what to which object: the one table every API handler of the gateway enforces.

``TABLE`` maps each action to the roles that may take it and, for each role, the rule that says on which objects
(办件, 环节, 部门, 差评) it may. A role missing from an action's row is refused with 403 before anything is read;
a role that holds the action but not the object gets 403 naming why (404 where the object is proved by the
applicant's ID number, so that a wrong number tells nothing). Nobody signed in gets 401 everywhere but the rating
links (``POST /api/rate/{token}``: the signed token is the credential) and the actions in ``PUBLIC`` (the lookup by
case number and the applicant's ID number, which shows progress only).

Point scoping: a clerk of a town or village point (``data/points.toml``) sees and acts only on the cases accepted
at that point (and those they accepted themselves, 首问负责); the banner hall (point ``hall``, 旗政务服务中心)
sees every case of the county. ``README.md`` ("Who may do what") shows this table as ``markdown()`` prints it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException

from services.gateway.users import ROLE_NAMES, Role, User
from shared.points import load_points

if TYPE_CHECKING:
    from services.gateway.context import Gateway, Req
    from services.gateway.desk.dossier import Dossier, Dossiers
    from services.gateway.steps.workbench import Workbench, WorkStep
    from services.gateway.views.evaluation import FollowUp

POINTS = load_points()
BANNER_HALL = "hall"
# The same answer for a case that does not exist and for an ID that is not the applicant's: nothing leaks.
NOT_FOUND = "未找到相符的办件，请核对办件编号和申请人证件号码"
# How long a case's dossier may take to appear after intake answered (the gateway's read model follows Kafka).
DOSSIER_WAIT_S = 2.0


class Rule(StrEnum):
    """On which objects a role may take an action."""

    ANY = "全部"
    OWN_POINT = "本场所受理的办件（旗政务服务中心：全旗办件）"
    CASE_DEPARTMENT = "本部门有办理环节的办件"
    OWN_DEPARTMENT = "本部门的"
    CLAIMANT = "本人认领的本部门环节"
    APPLICANT_ID = "凭申请人证件号码"
    PAIRED = "配对窗口办理的服务（评价服务核对）"
    NOT_RATED = "非本部门被评价的差评（被评价部门不能裁决）"


class Action(StrEnum):
    SUBMIT = "申报受理"
    REFUSE = "不予受理（出具通知书）"
    PREREVIEW = "预审（自助终端、网上申请的受理、一次告知、不予受理）"
    CASE_READ = "查看办件（时间线、受理信息）"
    LOOKUP = "凭编号和证件号码查询进度"
    SUPPLEMENT = "补齐材料"
    DELIVERIES = "待出件清单"
    DELIVER = "出件"
    RATE = "评价办件"
    RATINGS_READ = "查看办件评价"
    RATING_LINK = "生成评价链接"
    PAD = "评价器一键评价"
    INBOX = "部门待办"
    ESCALATIONS = "超时督办"
    STEP_READ = "查看环节"
    STEP_ACT = "认领、办理、改派、恢复办理"
    SPECIAL = "特别程序（启动、结束）、申请延长"
    EXTENSION_DECIDE = "批准延长"
    FOLLOWUP = "差评整改（查看、核实、延期、回访、办结、整改评价链接）"
    APPEAL_REVIEW = "审核申诉"
    STATS = "好差评统计"
    SLA = "时限监控"
    SLA_EXPORT = "导出时限监控（CSV、Excel）"
    STATS_EXPORT = "导出好差评统计（CSV、Excel）"
    FOLLOWUP_EXPORT = "导出差评整改台账（CSV、Excel）"
    CATALOGUE = "事项目录"
    ASSESS = "检查申请材料（一次告知、容缺）"
    OPS = "运行监控（服务实例、死信、持续重试的消息）"
    OPS_REPLAY = "重新投递死信"
    PROJECT_REGISTER = "登记工程建设项目"
    PROJECTS = "查看工程建设项目（各阶段、审批时间）"
    EXTERNAL = "跨省通办代收件清单"
    HANDOVER = "跨省通办移交（推送或寄出原件，记录运单号）"
    EXTERNAL_RECORD = "代录外省接收与办理结果（电话、邮件）"


A, R = Action, Rule
TABLE: Mapping[Action, Mapping[Role, Rule]] = {
    A.SUBMIT: {"clerk": R.ANY, "kiosk": R.ANY},
    A.REFUSE: {"clerk": R.ANY},
    A.PREREVIEW: {"clerk": R.OWN_POINT},
    A.CASE_READ: {
        "clerk": R.OWN_POINT,
        "staff": R.CASE_DEPARTMENT,
        "supervisor": R.ANY,
        "hall-supervisor": R.ANY,
        "operator": R.ANY,
    },
    A.LOOKUP: {"kiosk": R.APPLICANT_ID, "clerk": R.APPLICANT_ID, "operator": R.APPLICANT_ID},
    A.SUPPLEMENT: {"clerk": R.OWN_POINT, "kiosk": R.APPLICANT_ID},
    A.DELIVERIES: {"clerk": R.OWN_POINT, "operator": R.ANY},
    A.DELIVER: {"clerk": R.OWN_POINT},
    A.RATE: {"kiosk": R.APPLICANT_ID, "pad": R.PAIRED, "operator": R.ANY},
    A.RATINGS_READ: {
        "clerk": R.OWN_POINT,
        "staff": R.CASE_DEPARTMENT,
        "supervisor": R.ANY,
        "hall-supervisor": R.ANY,
        "operator": R.ANY,
    },
    A.RATING_LINK: {"clerk": R.OWN_POINT, "operator": R.ANY},
    A.PAD: {"pad": R.PAIRED},
    A.INBOX: {"staff": R.OWN_DEPARTMENT, "supervisor": R.OWN_DEPARTMENT, "operator": R.ANY},
    A.ESCALATIONS: {"supervisor": R.OWN_DEPARTMENT, "operator": R.ANY},
    A.STEP_READ: {"staff": R.OWN_DEPARTMENT, "supervisor": R.OWN_DEPARTMENT, "operator": R.ANY, "clerk": R.OWN_POINT},
    A.STEP_ACT: {"staff": R.OWN_DEPARTMENT, "supervisor": R.OWN_DEPARTMENT},
    A.SPECIAL: {"staff": R.CLAIMANT, "supervisor": R.OWN_DEPARTMENT},
    A.EXTENSION_DECIDE: {"supervisor": R.OWN_DEPARTMENT},
    A.FOLLOWUP: {
        "staff": R.OWN_DEPARTMENT,
        "supervisor": R.OWN_DEPARTMENT,
        "hall-supervisor": R.OWN_DEPARTMENT,
        "operator": R.ANY,
    },
    # 申诉 are decided by the hall's 政务服务管理机构 (or an operator), never by the rated department (DOMAIN §5).
    A.APPEAL_REVIEW: {"hall-supervisor": R.NOT_RATED, "operator": R.ANY},
    A.STATS: {"supervisor": R.ANY, "hall-supervisor": R.ANY, "operator": R.ANY},
    A.SLA: {"supervisor": R.OWN_DEPARTMENT, "operator": R.ANY},
    # An export is authorized as the list it exports (services/gateway/exports).
    A.SLA_EXPORT: {"supervisor": R.OWN_DEPARTMENT, "operator": R.ANY},
    A.STATS_EXPORT: {"supervisor": R.ANY, "hall-supervisor": R.ANY, "operator": R.ANY},
    A.FOLLOWUP_EXPORT: {
        "staff": R.OWN_DEPARTMENT,
        "supervisor": R.OWN_DEPARTMENT,
        "hall-supervisor": R.OWN_DEPARTMENT,
        "operator": R.ANY,
    },
    A.CATALOGUE: {
        role: R.ANY for role in ("clerk", "staff", "supervisor", "hall-supervisor", "kiosk", "pad", "operator")
    },
    A.ASSESS: {"clerk": R.ANY},
    A.OPS: {"operator": R.ANY},
    A.OPS_REPLAY: {"operator": R.ANY},
    A.PROJECT_REGISTER: {"clerk": R.ANY},
    A.PROJECTS: {"clerk": R.ANY, "operator": R.ANY},
    A.EXTERNAL: {"clerk": R.OWN_POINT, "operator": R.ANY},
    A.HANDOVER: {"clerk": R.OWN_POINT},
    A.EXTERNAL_RECORD: {"operator": R.ANY},
}

# What nobody signed in may do, with the applicant's ID number as the credential (``APPLICANT_ID``).
PUBLIC: frozenset[Action] = frozenset({A.LOOKUP})

# The API routes of each action (method and path), for the README and the generated authorization test.
ROUTES: Mapping[Action, tuple[str, ...]] = {
    A.SUBMIT: ("POST /api/cases",),
    A.REFUSE: ("POST /api/cases（带 refusal_reason）",),
    A.PREREVIEW: (
        "GET /api/prereviews",
        "GET /api/prereviews/{prereview_no}",
        "POST /api/prereviews/{prereview_no}/decision",
    ),
    A.CASE_READ: ("GET /api/cases/{case_no}", "GET /api/sla/cases/{case_no}（科室负责人、运维）"),
    A.LOOKUP: ("GET /api/lookup",),
    A.SUPPLEMENT: ("POST /api/cases/{case_no}/materials",),
    A.DELIVERIES: ("GET /api/deliveries",),
    A.DELIVER: ("POST /api/deliveries/{case_no}",),
    A.RATE: ("POST /api/cases/{case_no}/ratings",),
    A.RATINGS_READ: ("GET /api/cases/{case_no}/ratings",),
    A.RATING_LINK: ("POST /api/cases/{case_no}/rating-links",),
    A.PAD: ("GET /api/pad/current", "POST /api/pad/ratings"),
    A.INBOX: ("GET /api/departments/{department}/steps",),
    A.ESCALATIONS: ("GET /api/departments/{department}/escalations",),
    A.STEP_READ: ("GET /api/steps/{step_id}",),
    A.STEP_ACT: (
        "POST /api/steps/{step_id}/claim",
        "POST /api/steps/{step_id}/decision",
        "POST /api/steps/{step_id}/reassign",
        "POST /api/steps/{step_id}/resume",
    ),
    A.SPECIAL: (
        "POST /api/steps/{step_id}/special-procedure",
        "POST /api/steps/{step_id}/special-procedure/end",
        "POST /api/steps/{step_id}/extension",
    ),
    A.EXTENSION_DECIDE: ("POST /api/steps/{step_id}/extension/decision",),
    A.FOLLOWUP: ("GET /api/ratings/followups", "GET|POST /api/ratings/followups/{followup_id}/…"),
    A.APPEAL_REVIEW: ("POST /api/ratings/followups/{followup_id}/appeal-review",),
    A.STATS: ("GET /api/ratings/stats",),
    A.SLA: ("GET /api/sla/board", "GET /api/sla/lists/{name}", "GET /api/sla/stream"),
    A.SLA_EXPORT: ("GET /api/sla/board/export",),
    A.STATS_EXPORT: ("GET /api/ratings/stats/export",),
    A.FOLLOWUP_EXPORT: ("GET /api/ratings/followups/export",),
    A.CATALOGUE: ("GET /api/catalogue", "GET /api/catalogue/{code}"),
    A.ASSESS: ("POST /api/catalogue/{code}/assessment",),
    A.OPS: (
        "GET /api/ops/stuck",
        "GET /api/ops/instances",
        "GET /api/ops/deadletters",
        "GET /api/ops/stream",
    ),
    A.OPS_REPLAY: ("POST /api/ops/deadletters/{letter_id}/replay",),
    A.PROJECT_REGISTER: ("POST /api/projects",),
    A.PROJECTS: ("GET /api/projects", "GET /api/projects/{project_code}"),
    A.EXTERNAL: ("GET /api/external/cases",),
    A.HANDOVER: ("POST /api/external/cases/{case_no}/handover",),
    A.EXTERNAL_RECORD: ("POST /api/external/cases/{case_no}/answers",),
}

# The channel of a submission is the caller's, never the body's.
CHANNEL: Mapping[Role, str] = {"clerk": "window", "kiosk": "kiosk"}


def roles(action: Action) -> tuple[Role, ...]:
    return tuple(TABLE[action])


def rule(user: User, action: Action) -> Rule | None:
    return TABLE[action].get(user.role)


def caller(hall: Gateway, request: Req, action: Action) -> User:
    """The signed-in caller, holding a role that may take ``action`` (401 / 403 otherwise)."""
    return hall.users.caller(request, *roles(action))


def may(user: User, action: Action) -> bool:
    return rule(user, action) is not None


def _refuse(user: User, what: str) -> PermissionDeniedException:
    return PermissionDeniedException(f"{user.name}（{user.role_name}）无权{what}")


def require(user: User, action: Action, department: str = "") -> Rule:
    found = rule(user, action)
    if found is None:
        if action is A.EXTENSION_DECIDE and department:  # routing's own words for the same refusal
            raise PermissionDeniedException(f"延长须经{department}科室负责人批准，{user.name}不是科室负责人")
        wanted = "、".join(ROLE_NAMES[r] for r in roles(action))
        raise _refuse(user, f"{action.value}，需要：{wanted}")
    return found


# ---------------------------------------------------------------- cases


def point_name(code: str) -> str:
    point = POINTS.get(code)
    return point.name if point else ""


def at_point(user: User, dossier: Dossier) -> bool:
    """A clerk's case: accepted at their point or by them; the banner hall's clerks see every case of the county."""
    return user.point == BANNER_HALL or dossier.owner == user.id or dossier.point_name == point_name(user.point)


async def dossier_of(dossiers: Dossiers, hall: Gateway, case_id: str) -> Dossier | None:
    """The case's dossier, waiting a moment for it right after intake answered (the read model follows Kafka)."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + DOSSIER_WAIT_S
    while True:
        dossier = await dossiers.get(hall.redis, case_id)
        if dossier is not None or loop.time() >= ends:
            return dossier
        await asyncio.sleep(0.05)


async def check_case(
    hall: Gateway,
    user: User,
    action: Action,
    case_id: str,
    case_no: str,
    *,
    dossiers: Dossiers,
    workbench: Workbench | None = None,
    id_number: str | None = None,
) -> None:
    """403 (404 for an ID check) unless ``user`` may take ``action`` on the case."""
    found = require(user, action)
    if found is R.ANY:
        return
    if found is R.APPLICANT_ID:
        if not id_number or not await dossiers.belongs_to(hall.redis, case_id, id_number):
            raise NotFoundException(NOT_FOUND)
        return
    if found is R.OWN_POINT:
        if user.point == BANNER_HALL:
            return
        dossier = await dossier_of(dossiers, hall, case_id)
        if dossier is None or not at_point(user, dossier):
            where = f"由{dossier.point_name}受理" if dossier else "不是本场所受理的"
            raise PermissionDeniedException(
                f"办件 {case_no} {where}，{point_name(user.point) or user.point}的窗口人员无权{action.value}"
            )
        return
    if found is R.CASE_DEPARTMENT:
        steps = await workbench.case_steps(hall.redis, case_id) if workbench is not None else []
        if not any(s.department == user.department for s in steps):
            raise PermissionDeniedException(f"办件 {case_no} 没有{user.department}的办理环节，无权{action.value}")
        return
    raise _refuse(user, f"对办件 {case_no} {action.value}")


def check_submission(user: User, channel: str | None, refusal_reason: str) -> str:
    """The channel of a submission (from the caller's role); a kiosk may not issue a 不予受理 notice (400: the field
    is not one a machine may send; its submission waits for a clerk's 预审)."""
    if refusal_reason and not may(user, A.REFUSE):
        raise HTTPException(
            status_code=400,
            detail=f"refusal_reason：{user.role_name}不能出具不予受理通知书，只能提交预审；不予受理由窗口人员在预审中认定",
        )
    own = CHANNEL[user.role]
    if channel is not None and channel != own:
        raise HTTPException(
            status_code=422,
            detail=f"受理渠道取自登录用户：{user.role_name}的渠道是 {own}，不能申报为 {channel}（可省略 channel）",
        )
    return own


# ---------------------------------------------------------------- departments, steps, bad reviews


def check_department(user: User, action: Action, department: str) -> None:
    found = require(user, action)
    if found is not R.ANY and user.department != department:
        raise PermissionDeniedException(f"{user.department or user.name}人员不能{action.value}：{department}")


async def check_step(
    hall: Gateway,
    user: User,
    action: Action,
    step: WorkStep,
    *,
    workbench: Workbench,
    dossiers: Dossiers | None = None,
) -> None:
    found = require(user, action, step.department)
    if found is R.ANY:
        return
    if found is R.OWN_POINT:
        if dossiers is None:
            raise _refuse(user, action.value)
        await check_case(hall, user, A.CASE_READ, step.case_id, step.case_no, dossiers=dossiers, workbench=workbench)
        return
    if user.department != step.department:
        # routing's own words for the same refusal
        raise PermissionDeniedException(f"该环节属于{step.department}，{user.department or user.name}无权办理")
    if found is R.CLAIMANT and step.assignee_id != user.id:
        step = await _claimed(hall, workbench, step)
    if found is R.CLAIMANT and step.assignee_id != user.id:
        holder = f"由{step.assignee_name}认领" if step.assignee_id else "尚未认领"
        raise PermissionDeniedException(f"该环节{holder}：{action.value}只能由认领人或{step.department}负责人办理")


async def _claimed(hall: Gateway, workbench: Workbench, step: WorkStep) -> WorkStep:
    """An unclaimed step read again for a moment: a claim just answered may not have reached the workbench yet."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + DOSSIER_WAIT_S
    while not step.assignee_id and loop.time() < ends:
        await asyncio.sleep(0.05)
        step = await workbench.step(hall.redis, step.step_id) or step
    return step


RATED_MAY_NOT_JUDGE = "被评价部门不能裁决对本部门的申诉"


def rated_departments(followup: FollowUp) -> list[str]:
    """谁办理谁负责: every department the bad review is charged to (the window's, the decision's, or both)."""
    return followup.departments or [followup.department]


def check_appeal_review(user: User, followup: FollowUp) -> None:
    """An appeal is decided by the hall's 政务服务管理机构 or an operator, never by a rated department."""
    rated = rated_departments(followup)
    if user.role != "operator" and user.department in rated:
        raise PermissionDeniedException(
            f"{RATED_MAY_NOT_JUDGE}：该差评计入{user.department}，申诉由政务服务管理机构（大厅管理人员）裁决"
        )
    require(user, A.APPEAL_REVIEW)


def check_followup(user: User, action: Action, followup: FollowUp) -> None:
    if action is A.APPEAL_REVIEW:
        check_appeal_review(user, followup)
        return
    found = require(user, action)
    rated = rated_departments(followup)
    if found is not R.ANY and user.department not in rated:
        raise PermissionDeniedException(f"该差评由{'、'.join(rated)}处理，{user.department or user.name}无权查看或办理")


# ---------------------------------------------------------------- the README's table


def markdown() -> str:
    """The table as the README shows it (section "Who may do what")."""
    order: tuple[Role, ...] = ("clerk", "staff", "supervisor", "hall-supervisor", "kiosk", "pad", "operator")
    head = "| action | routes | " + " | ".join(f"{ROLE_NAMES[r]} ({r})" for r in order) + " |"
    lines = [head, "|" + "---|" * (len(order) + 2)]
    for action, row in TABLE.items():
        cells = [row[r].value if r in row else "—" for r in order]
        routes = "<br>".join(f"`{route}`" for route in ROUTES[action])
        lines.append(f"| {action.value} | {routes} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())  # noqa: T201
