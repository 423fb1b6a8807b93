"""Intake's handlers and the table of which command each one answers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.intake.catalogue import Catalogue
from services.intake.messages import (
    ApplicationOutcome,
    CaseAccepted,
    LimitOut,
    SubmitApplication,
)
from services.intake.rules import case_number, missing_materials, unknown_materials
from shared import topics
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.settings import HallSettings

LOCAL = ZoneInfo("Asia/Shanghai")


class Intake:
    def __init__(self, settings: HallSettings, catalogue: Catalogue) -> None:
        self.settings = settings
        self.catalogue = catalogue

    def table(self) -> HandlerTable:
        return {"SubmitApplication.v1": Route(SubmitApplication, self.submit_application)}

    async def submit_application(self, env: Envelope, cmd: SubmitApplication, txn: Txn) -> None:
        item = self.catalogue.get(cmd.item_code)
        if item is None:
            txn.answer(422, reason=f"未知事项编码：{cmd.item_code}")
            return
        unknown = unknown_materials(item, cmd.materials)
        if unknown:
            txn.answer(422, reason=f"事项“{item.name}”没有这些材料编码：{'、'.join(unknown)}")
            return
        accepted_at = env.occurred_at.astimezone(LOCAL)
        version = item.version_on(accepted_at.date())
        if version is None:
            txn.answer(422, reason=f"事项“{item.name}”在 {accepted_at:%Y-%m-%d} 尚未生效")
            return
        missing = missing_materials(item, cmd.materials)
        if missing:
            txn.answer(
                200,
                body=ApplicationOutcome(outcome="待补正", case_id=env.case_id, item_name=item.name, missing=missing),
            )
            return
        case_key = self.settings.key("intake", "case", env.case_id)
        if await txn.get(case_key) is not None:
            txn.answer(409, reason="该申请已受理，请勿重复提交")
            return
        sequence = await txn.next_number(self.settings.key("intake", "seq", f"{accepted_at:%Y%m%d}"))
        case_no = case_number(self.settings.region_code, accepted_at, sequence)
        accepted = CaseAccepted(
            case_no=case_no,
            item_code=item.code,
            item_name=item.name,
            item_version=version.effective.isoformat(),
            departments=[item.department],
            case_type=item.case_type,
            statutory_limit=LimitOut(version.statutory.value, version.statutory.unit),
            promised_limit=LimitOut(version.promised.value, version.promised.unit),
            applicant_name=cmd.applicant.name,
            channel=cmd.channel,
            accepted_at=env.occurred_at,
        )
        txn.set(case_key, case_no)
        txn.emit(self.settings.topic(topics.INTAKE_EVENTS), accepted)
        txn.answer(
            201, body=ApplicationOutcome(outcome="受理", case_id=env.case_id, case_no=case_no, item_name=item.name)
        )
