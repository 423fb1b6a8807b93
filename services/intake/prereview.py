"""预审: a kiosk, web or mobile submission is not accepted by the machine. It waits, numbered in a series of its
own (``YS``), for a window clerk, who acts on it with the window's rules: 受理 (the case number, the clerk the
首问负责人), 一次告知 (the missing list) or 不予受理 (the notice). DOMAIN.md §3: acceptance and refusal are acts of a
person; items are accepted only through the channels of their 办理形式 (catalogue ``forms``).

Keys (intake's own): ``prereview:{no}`` the record (the command as submitted, its case id, its state),
``seq-prereview:{date}`` the daily sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import msgspec

from services.intake import handlers
from services.intake.identity import normalize
from services.intake.messages import (
    ApplicationPreSubmitted,
    MissingMaterial,
    PreReviewed,
    PreReviewOutcome,
    ReviewPreSubmission,
    SubmitApplication,
)
from services.intake.rules import Assessment, assess
from shared.catalogue import Catalogue, FormMaterial, Item, Offering
from shared.envelope import Envelope
from shared.localtime import LOCAL
from shared.outbox import Txn
from shared.replies import Refusal, decode_reply

if TYPE_CHECKING:
    from services.intake.handlers import Intake

SERIES = "YS"  # 预审编号's own series in the case-number scheme
PENDING = "待预审"
# 办理形式 (catalogue ``forms``) a channel may take: a 24-hour kiosk is a terminal of the online hall (网办).
CHANNEL_FORMS: dict[str, tuple[str, ...]] = {"kiosk": ("自助", "网办"), "web": ("网办",), "mobile": ("掌上",)}
CHANNEL_NAMES = {"kiosk": "自助终端", "web": "网上办事大厅", "mobile": "掌上办"}
OUTCOMES: dict[int, Literal["受理", "待补正"]] = {201: "受理", 200: "待补正"}


class PreReviewRecord(msgspec.Struct, kw_only=True):
    prereview_no: str
    case_id: str
    application: SubmitApplication
    status: str = PENDING  # 待预审 / 受理 / 待补正 / 不予受理
    case_no: str = ""
    notice_no: str = ""


_record = msgspec.json.Decoder(PreReviewRecord)


class _Answer(msgspec.Struct):
    outcome: str = ""
    case_no: str = ""
    notice_no: str = ""
    missing: list[MissingMaterial] = []


_answer = msgspec.json.Decoder(_Answer)


def prereview_number(region_code: str, at: datetime, sequence: int) -> str:
    """预审编号: the case-number scheme with its own series, e.g. 15052520261130YS000007."""
    return f"{region_code}{at:%Y%m%d}{SERIES}{sequence:06d}"


def forms_of(catalogue: Catalogue, offering: Offering) -> list[str]:
    """The 办理形式 of an item, or those every part of a 一件事 has."""
    if isinstance(offering, Item):
        return list(offering.forms)
    shared: list[str] | None = None
    for part in offering.parts:
        forms: list[str] = list(catalogue.part_item(part).forms)
        shared = forms if shared is None else [f for f in shared if f in forms]
    return shared or ["窗口"]


def channel_problem(catalogue: Catalogue, offering: Offering, channel: str) -> str:
    """The reason an item may not be handed in through ``channel`` (its 办理形式 lack it), or ""."""
    allowed = CHANNEL_FORMS.get(channel)
    if allowed is None:
        return ""
    forms = forms_of(catalogue, offering)
    if any(form in forms for form in allowed):
        return ""
    if forms == ["窗口"]:
        return f"{offering.name}仅限窗口办理"
    return f"{offering.name}不能通过{CHANNEL_NAMES[channel]}办理（办理形式：{'、'.join(forms)}）"


def checks(offering: Offering, form: list[FormMaterial], cmd: SubmitApplication) -> list[str]:
    """What the clerk will check before 受理 (shown to the applicant with the pre-review number)."""
    given = set(cmd.materials)
    found = [f"申请人身份：{cmd.applicant.id_type}与申请人姓名、申请材料是否一致"]
    if getattr(cmd, "agent", None) is not None:
        found.append("代理人身份及授权委托书")
    found += [f"材料：{m.name}（原件{m.originals}份、复印件{m.copies}份）" for m in form if m.code in given]
    if isinstance(offering, Item) and offering.conditions:
        found.append(f"受理条件：{offering.conditions}")
    if cmd.deferral_signed:
        found.append("容缺承诺书及可容缺材料的补齐期限")
    if cmd.commitment_signed:
        found.append("告知承诺书及申请人信用记录")
    return found


async def submit(intake: Intake, env: Envelope, cmd: SubmitApplication, txn: Txn) -> None:
    """待预审: the submission is checked as at the window (item, ID, point, materials, version) and for its
    channel's 办理形式, numbered and kept for a clerk; nothing is accepted, no clock starts."""
    if cmd.refusal_reason.strip():
        raise Refusal(400, "refusal_reason：自助终端和网上渠道只能提交预审，不予受理由窗口人员认定")
    at = env.occurred_at.astimezone(LOCAL)
    offering, point, _version, _requested = intake._checked(cmd, at)
    if problem := channel_problem(intake.catalogue, offering, cmd.channel):
        raise Refusal(422, problem)
    form = _form(intake, offering, cmd)
    lacking = await _lacking(intake, form, cmd, txn)
    sequence = await txn.next_number(intake.key("seq-prereview", f"{at:%Y%m%d}"))
    number = prereview_number(intake.settings.region_code, at, sequence)
    listed = checks(offering, form, cmd)
    if lacking:
        listed.append(f"材料是否齐全：{'、'.join(m.name for m in lacking)}尚未提交（受理前须一次告知）")
    txn.set(intake.key("prereview", number), PreReviewRecord(prereview_no=number, case_id=env.case_id, application=cmd))
    txn.emit(
        intake.events,
        ApplicationPreSubmitted(
            prereview_no=number,
            item_code=offering.code,
            item_name=offering.name,
            application=cmd,
            point=point.code,
            point_name=point.name,
            channel=cmd.channel,
            checks=listed,
            missing=lacking,
            submitted_at=env.occurred_at,
        ),
    )
    outcome = PreReviewOutcome(
        case_id=env.case_id,
        prereview_no=number,
        item_code=offering.code,
        item_name=offering.name,
        point_name=point.name,
        checks=listed,
        missing=lacking,
    )
    txn.answer(202, body=outcome)


async def _lacking(intake: Intake, form: list[FormMaterial], cmd: SubmitApplication, txn: Txn) -> list[MissingMaterial]:
    """What the window's checklist finds missing (材料复用 counted: the applicant's documents on file are read)."""
    given = set(cmd.materials)
    on_file: dict[bytes, bytes] = {}
    if any(m.reusable and m.required and m.code not in given for m in form):
        id_number = normalize(cmd.applicant.id_type, intake._id_number(cmd))
        for id_key in reversed(intake.pii.lookup_hashes(id_number)):
            on_file.update(await txn.hgetall(intake.key("docs", id_key)))
    files = {name.decode(): msgspec.json.decode(raw)["case_no"] for name, raw in on_file.items()}
    signed = {"deferral_signed": cmd.deferral_signed, "commitment_signed": cmd.commitment_signed}
    return assess(form, cmd.materials, files, **signed).missing


def _form(intake: Intake, offering: Offering, cmd: SubmitApplication) -> list[FormMaterial]:
    """The application's checklist as the window builds it (with an agent's 委托书 where intake adds one)."""
    build = getattr(intake, "form", None)
    return list(build(offering, cmd)) if callable(build) else intake.catalogue.form(offering)


async def review(intake: Intake, env: Envelope, cmd: ReviewPreSubmission, txn: Txn) -> None:
    """A clerk's 预审: the stored submission goes through the window's rules with the clerk as the actor."""
    key = intake.key("prereview", cmd.prereview_no)
    raw = await txn.get(key)
    if raw is None:
        raise Refusal(404, f"没有预审编号为 {cmd.prereview_no} 的申请")
    record = _record.decode(raw)
    if record.case_id != env.case_id:
        raise Refusal(404, f"没有预审编号为 {cmd.prereview_no} 的申请")
    if record.status != PENDING:
        done = record.case_no or record.notice_no
        raise Refusal(409, f"预审 {cmd.prereview_no} 已办结：{record.status}{f'（{done}）' if done else ''}")
    application = record.application
    offering = intake.catalogue.offering(application.item_code)
    if offering is None:
        raise Refusal(422, f"未知事项编码：{application.item_code}")
    if cmd.action == "不予受理":
        if not cmd.reason.strip():
            raise Refusal(422, "不予受理须写明理由（reason）")
        application = msgspec.structs.replace(application, refusal_reason=cmd.reason.strip())
    before = len(txn.outgoing)
    if cmd.action == "一次告知":
        await _notify(intake, env, application, cmd, txn)
    else:
        await intake._decide(env, application, txn)
    status, body = _replied(txn, before)
    if status == 422 and body.outcome == "不予受理":
        outcome: Literal["受理", "待补正", "不予受理"] = "不予受理"
    elif status in OUTCOMES:
        outcome = OUTCOMES[status]
    else:
        return  # refused as bad input: the submission stays 待预审
    record.status, record.case_no, record.notice_no = outcome, body.case_no, body.notice_no
    txn.set(key, record)
    txn.emit(
        intake.events,
        PreReviewed(
            prereview_no=record.prereview_no,
            outcome=outcome,
            reviewer=env.actor.id,
            reviewer_name=env.actor.name,
            reviewed_at=env.occurred_at,
            case_no=body.case_no,
            notice_no=body.notice_no,
            reason=cmd.reason.strip(),
            missing=body.missing,
        ),
    )


async def _notify(
    intake: Intake, env: Envelope, application: SubmitApplication, cmd: ReviewPreSubmission, txn: Txn
) -> None:
    """一次告知 from the queue: the materials the clerk finds lacking or defective (with the clerk's reason) and those
    the checklist finds missing, at once, in a numbered 一次性告知书 issued by the clerk (intake's own notice)."""
    at = env.occurred_at.astimezone(LOCAL)
    offering, point, version, _requested = intake._checked(application, at)
    if not cmd.missing:
        raise Refusal(422, "一次告知须列出缺少或不合格的材料编码（missing）")
    form = _form(intake, offering, application)
    by_code = {m.code: m for m in form}
    unknown = [code for code in cmd.missing if code not in by_code]
    if unknown:
        raise Refusal(422, f"“{offering.name}”没有这些材料编码：{'、'.join(unknown)}")
    optional = [by_code[code].name for code in cmd.missing if not by_code[code].required]
    if optional:
        raise Refusal(422, f"这些材料不是必备材料，不能据此一次告知：{'、'.join(optional)}")
    why = cmd.reason.strip() or "材料缺少或不符合要求，请补正"
    named = [MissingMaterial(code, by_code[code].name, why) for code in dict.fromkeys(cmd.missing)]
    found = [m for m in await _lacking(intake, form, application, txn) if m.code not in set(cmd.missing)]
    id_number = normalize(application.applicant.id_type, intake._id_number(application))
    checked = Assessment(missing=named + found, owed=[], reused=[], by_commitment=[])
    notice = handlers.Application(
        env=env,
        cmd=application,
        offering=offering,
        point=point,
        version=version,
        id_number=id_number,
        id_key=intake.pii.lookup_hash(id_number),
    )
    await intake._notify_missing(txn, notice, checked)


def _replied(txn: Txn, before: int) -> tuple[int, _Answer]:
    """The status and body of the answer the window's rules queued (the last reply since ``before``)."""
    for out in reversed(txn.outgoing[before:]):
        try:
            answered = decode_reply(out.value)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        return answered.status, _answer.decode(answered.body) if bytes(answered.body) != b"{}" else _Answer()
    return 0, _Answer()


class PreReviewFold:
    """``./hall rebuild intake``: the pre-review records and their daily sequences folded from intake.events."""

    def __init__(self, key: Callable[..., str], region_code: str) -> None:
        self.key = key
        self.region_code = region_code
        self.records: dict[str, PreReviewRecord] = {}
        self.sequences: dict[str, int] = {}

    def apply(self, env: Envelope, event: ApplicationPreSubmitted | PreReviewed) -> None:
        if isinstance(event, ApplicationPreSubmitted):
            number = event.prereview_no
            self.records[number] = PreReviewRecord(
                prereview_no=number, case_id=env.case_id, application=event.application
            )
            day, _, sequence = number[len(self.region_code) :].partition(SERIES)
            if sequence.isdigit():
                self.sequences[day] = max(self.sequences.get(day, 0), int(sequence))
            return
        record = self.records.get(event.prereview_no)
        if record is not None:
            record.status, record.case_no, record.notice_no = event.outcome, event.case_no, event.notice_no

    def into(self, strings: dict[str, bytes]) -> None:
        for number, record in self.records.items():
            strings[self.key("prereview", number)] = msgspec.json.encode(record)
        for day, sequence in self.sequences.items():
            strings[self.key("seq-prereview", day)] = str(sequence).encode()
