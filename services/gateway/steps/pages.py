"""The department workbench pages (zh-CN): the inbox, a step with its actions and audit trail, and the
printable 补正通知书 for the applicant. The actions post to the steps API (static/workbench.js)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from services.gateway.context import HallDep, Req
from services.gateway.legal import legal_text
from services.gateway.paging import DEFAULT_LIMIT, MOST_LIMIT
from services.gateway.provisional import years_text
from services.gateway.steps.api import BACK_OFFICE, WorkbenchDep
from services.gateway.steps.notify import Notifier
from services.gateway.steps.sla import BADGES
from services.gateway.steps.workbench import WorkStep
from shared.catalogue import UNITS, load_catalogue
from shared.localtime import when

NotifierDep = NamedDependency[Notifier]
SPECIAL_KINDS = ("听证", "招标", "拍卖", "检验", "检测", "检疫", "鉴定", "专家评审")


CATALOGUE = load_catalogue()


def special_kinds(step: WorkStep) -> tuple[str, ...]:
    """The special procedures the step's item allows (routing refuses others); every kind for an unknown item."""
    item = CATALOGUE.get(step.item_code) if step.item_code else None
    return SPECIAL_KINDS if item is None else tuple(item.special_procedures)


def licence_of(item_code: str) -> str:
    """The licence a grant of the item issues (the 决定 form's default 证照名称); "" for none or an unknown item."""
    item = CATALOGUE.get(item_code) if item_code else None
    return item.licence if item is not None else ""


def state(step: WorkStep) -> str:
    if step.status == "已办":
        return f"已办（{step.action}）"
    if step.waiting == "补正":
        return "退回补正中"
    if step.waiting == "特别程序":
        return f"特别程序（{step.special}）"
    return f"{step.assignee_name}办理中" if step.assignee_name else "待认领"


HELPERS: dict[str, Any] = {"when": when, "state": state, "badges": BADGES, "units": UNITS, "years_text": years_text}


class WorkbenchPages(Controller):
    path = "/workbench"
    include_in_schema = False

    @get("/")
    async def inbox(
        self,
        request: Req,
        hall: HallDep,
        workbench: WorkbenchDep,
        *,
        department: FromQuery[str] = "",
        cursor: FromQuery[str] = "",
        mine: FromQuery[bool] = False,
    ) -> Template:
        """A page of the inbox (50 steps, oldest first; 下一页 follows the cursor), all or only the user's own."""
        user = hall.users.page_user(request, *BACK_OFFICE, "operator")
        shown = department if user.role == "operator" and department else user.department
        mine = mine and user.role != "operator"
        whose = user.id if mine else ""
        steps, found = await workbench.inbox_page(hall.redis, shown, DEFAULT_LIMIT, cursor, assignee=whose)
        lead = user.role in ("supervisor", "operator")
        extensions = (await workbench.inbox_page(hall.redis, shown, MOST_LIMIT, extensions=True))[0] if lead else []
        context = {
            **HELPERS,
            "user": user,
            "department": shown,
            "steps": steps,
            "total": found.total,
            "next_cursor": found.next_cursor,
            "first_page": not cursor,
            "mine": mine,
            "extensions": extensions,
            "escalations": (await workbench.escalations_page(hall.redis, shown, DEFAULT_LIMIT))[0] if lead else [],
            "lead": lead,
        }
        return Template(template_name="workbench/inbox.html", context=context)

    @get("/steps/{step_id:str}")
    async def step(
        self, request: Req, step_id: FromPath[str], hall: HallDep, workbench: WorkbenchDep, notifier: NotifierDep
    ) -> Template:
        user = hall.users.page_user(request, *BACK_OFFICE, "operator")
        found = await workbench.step(hall.redis, step_id)
        if found is None:
            raise NotFoundException(f"没有环节 {step_id}")
        if user.role != "operator" and user.department != found.department:
            reason = f"该环节属于{found.department}，{user.department}人员无权查看或办理"
            return Template(
                template_name="workbench/refused.html", context={"user": user, "reason": reason}, status_code=403
            )
        colleagues = [
            u for role in BACK_OFFICE for u in hall.users.of(role, found.department) if u.id != found.assignee_id
        ]
        context = {
            **HELPERS,
            "user": user,
            "step": await workbench.view(hall.redis, found),
            "records": await workbench.records(hall.redis, step_id),
            "colleagues": colleagues,
            "kinds": special_kinds(found),
            "mine": user.department == found.department,
            "notices": await notifier.of_step(hall.redis, step_id),
            "licence": licence_of(found.item_code),
        }
        return Template(template_name="workbench/step.html", context=context)

    @get("/steps/{step_id:str}/notice")
    async def notice(self, request: Req, step_id: FromPath[str], hall: HallDep, workbench: WorkbenchDep) -> Template:
        user = hall.users.page_user(request, *BACK_OFFICE, "operator", "clerk")
        found = await workbench.step(hall.redis, step_id)
        if found is None or not found.materials:
            raise NotFoundException(f"环节 {step_id} 没有退回补正，没有补正通知书")
        records = await workbench.records(hall.redis, step_id)
        returned = next((r for r in reversed(records) if r.action == "退回"), None)
        deadline = await workbench.return_deadline(hall.redis, step_id)
        context = {**HELPERS, "user": user, "step": found, "returned": returned, "deadline": deadline}
        return Template(template_name="workbench/notice.html", context=context)

    @get("/notices/{notice_no:str}")
    async def applicant_notice(
        self, request: Req, notice_no: FromPath[str], hall: HallDep, notifier: NotifierDep
    ) -> Template:
        """延长审批期限告知书 / 特别程序告知书 / 退件通知书, printable: the deciding department's staff, clerks and
        operators. A 退件通知书 tells the applicant's remedy as a refusal of the item does (复议/诉讼, or a 公共服务's
        complaint channels)."""
        user = hall.users.page_user(request, *BACK_OFFICE, "operator", "clerk")
        notice = await notifier.get(hall.redis, notice_no)
        if notice is None:
            raise NotFoundException(f"没有告知书 {notice_no}")
        if user.role in BACK_OFFICE and user.department != notice.department:
            reason = f"该告知书属于{notice.department}，{user.department}人员无权查看"
            return Template(
                template_name="workbench/refused.html", context={"user": user, "reason": reason}, status_code=403
            )
        if notice.kind == "退件":
            remedy = legal_text(notice.item_code, "不予受理").remedy if notice.item_code else ""
            context = {**HELPERS, "user": user, "notice": notice, "remedy": remedy}
            return Template(template_name="workbench/returned.html", context=context)
        context = {**HELPERS, "user": user, "notice": notice}
        return Template(template_name="workbench/applicant_notice.html", context=context)
