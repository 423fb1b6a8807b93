"""书面告知 to the applicant: routing's ``ApplicantNotified`` (an approved extension, a started special procedure,
a 退件) kept as a printable notice (延长审批期限告知书 / 特别程序告知书 / 退件通知书) and handed to a notification
channel.

The channel is an SMS adapter that only logs by default (``LogOnlySms``): one line with the case, the notice and
the applicant's phone masked (138****5678), never the whole phone nor any ID number. A real SMS gateway is another
:class:`Channel`. A notice is sent once: a redelivered event finds its ``sent`` mark (a rebuild of the gateway's read
models replays the events into a fresh store, and logs the lines again).

Keys (the gateway's own): ``notice:{no}`` the notice (without the phone), ``notices:case:{case_no}`` and
``notices:step:{step_id}`` its numbers in order, ``notice-sent:{no}`` the channel's mark.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol, cast

import msgspec
from redis.asyncio import Redis

from services.gateway.views import routing
from shared.envelope import Envelope
from shared.kafka import HandlerTable, Route
from shared.outbox import Txn
from shared.pii import UnsealError, for_settings, mask_phone
from shared.settings import HallSettings

log = logging.getLogger("hall.gateway.sms")


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    """One printable notice, as the applicant receives it (no phone: the channel had it)."""

    notice_no: str
    kind: str
    title: str
    text: str
    basis: str = ""
    case_no: str
    item_case_no: str
    item_name: str
    step_id: str
    department: str
    applicant_name: str
    phone_masked: str = ""
    at: datetime
    item_code: str = ""  # the item the notice is about (its type decides a 退件通知书's remedy wording)


class Channel(Protocol):
    async def send(self, phone: str, notice: Notice) -> str:
        """Sends ``notice.text`` to ``phone`` (plain); returns what to log of it."""
        ...


class LogOnlySms:
    """The default channel: nothing leaves the hall; the log says what would have been sent, the phone masked."""

    async def send(self, phone: str, notice: Notice) -> str:
        return f"未发送（仅记录），{len(notice.text)} 字，至 {mask_phone(phone)}"


_notice = msgspec.json.Decoder(Notice)


class Notifier:
    def __init__(self, settings: HallSettings, channel: Channel | None = None) -> None:
        self.settings = settings
        self.channel: Channel = channel or LogOnlySms()
        self.pii = for_settings(settings)

    def key(self, *parts: str) -> str:
        return self.settings.key("gateway", *parts)

    def table(self) -> HandlerTable:
        return {"ApplicantNotified.v1": Route(routing.ApplicantNotified, self.notified)}

    async def notified(self, env: Envelope, event: routing.ApplicantNotified, txn: Txn) -> None:  # noqa: ARG002
        phone = self._phone(event)
        notice = Notice(
            notice_no=event.notice_no,
            kind=event.kind,
            title=event.title,
            text=event.text,
            basis=event.basis,
            case_no=event.case_no,
            item_case_no=event.item_case_no or event.case_no,
            item_name=event.item_name,
            step_id=event.step_id,
            department=event.department,
            applicant_name=event.applicant_name,
            phone_masked=mask_phone(phone) if phone else "",
            at=event.notified_at,
            item_code=event.item_code,
        )
        txn.set(self.key("notice", notice.notice_no), notice)
        entry: dict[str, float] = {notice.notice_no: notice.at.timestamp()}
        by_case, by_step = self.key("notices", "case", notice.case_no), self.key("notices", "step", notice.step_id)
        txn.write(lambda pipe: pipe.zadd(by_case, entry))
        txn.write(lambda pipe: pipe.zadd(by_step, entry))
        sent = self.key("notice-sent", notice.notice_no)
        if await txn.get(sent) is not None:
            return
        if not phone:
            log.info("短信 %s %s（%s）：申请人未留联系电话，未发送", notice.case_no, notice.title, notice.notice_no)
        else:
            outcome = await self.channel.send(phone, notice)
            log.info("短信 %s %s（%s）：%s", notice.case_no, notice.title, notice.notice_no, outcome)
        txn.set(sent, b"1")

    def _phone(self, event: routing.ApplicantNotified) -> str:
        try:
            return self.pii.unseal(event.applicant_phone).strip()
        except UnsealError:
            log.warning("短信 %s %s：联系电话无法解密，未发送", event.case_no, event.notice_no)
            return ""

    async def get(self, redis: Redis, notice_no: str) -> Notice | None:
        raw = await redis.get(self.key("notice", notice_no))
        return None if raw is None else _notice.decode(raw)

    async def of_case(self, redis: Redis, case_no: str) -> list[Notice]:
        return await case_notices(self.settings, redis, case_no)

    async def of_step(self, redis: Redis, step_id: str) -> list[Notice]:
        return await _listed(self.settings, redis, self.key("notices", "step", step_id))


async def case_notices(settings: HallSettings, redis: Redis, case_no: str) -> list[Notice]:
    """The notices of a case in the order they were issued (the desk's case page lists them)."""
    return await _listed(settings, redis, settings.key("gateway", "notices", "case", case_no))


async def _listed(settings: HallSettings, redis: Redis, index: str) -> list[Notice]:
    numbers = cast("list[bytes]", await redis.zrange(index, 0, -1))
    if not numbers:
        return []
    raws = await redis.mget([settings.key("gateway", "notice", n.decode()) for n in numbers])
    return [_notice.decode(raw) for raw in raws if raw is not None]
