"""Intake's Redis rebuilt from ``intake.events``, the record of every case it numbered.

Every key intake keeps comes back: each case's record (``case:<id>``: number, item, the applicant's keyed hash,
what it still owes, its 补齐 clock, refused or suspended), the daily numbering sequences (``seq:<date>``: the
highest number used, so the next one continues after it), the 材料复用 documents on file per applicant
(``docs:<hash>``), the 补齐 clocks' cases (``clock:<id>``), and the outbox markers of the commands and alerts
published something (they re-publish the same records, so a redelivered or retried command numbers nothing
twice).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from services.intake.handlers import NOTICE_SERIES, SUPPLEMENT, CaseRecord, NoticeRecord, OnFile
from services.intake.identity import normalize
from services.intake.messages import (
    ApplicationPreSubmitted,
    CaseAccepted,
    CaseRefused,
    CaseSuspended,
    ClockRequested,
    Material,
    MaterialsSupplemented,
    OneTimeNoticeIssued,
    PreReviewed,
    ProjectRegistered,
    ProjectStageCompleted,
)
from services.intake.prereview import PreReviewFold
from services.intake.projects import ProjectFold
from shared import topics
from shared.catalogue import Catalogue
from shared.envelope import Envelope
from shared.pii import Pii, UnsealError
from shared.rebuild import (
    Memory,
    Outputs,
    decoded,
    read_topics,
    rebuild_if_empty,
    rebuild_service,
    write_markers,
)
from shared.settings import HallSettings

SERVICE = "intake"
log = logging.getLogger("hall.intake.rebuild")

_KINDS: dict[str, type[msgspec.Struct]] = {
    f"{kind.__name__}.v1": kind
    for kind in (
        CaseAccepted,
        CaseRefused,
        CaseSuspended,
        ClockRequested,
        MaterialsSupplemented,
        OneTimeNoticeIssued,
        ApplicationPreSubmitted,  # 预审 (services/intake/prereview.py)
        PreReviewed,
        ProjectRegistered,  # 工程建设项目 (services/intake/projects.py)
        ProjectStageCompleted,
    )
}


class IntakeFold:
    """Folds intake's events, in the order they were published, into intake's keys."""

    def __init__(self, settings: HallSettings, catalogue: Catalogue, pii: Pii) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.pii = pii
        self.cases: dict[str, CaseRecord] = {}
        self.sequences: dict[str, int] = {}
        self.docs: dict[str, dict[str, OnFile]] = {}
        self.clocks: dict[str, str] = {}
        self.notices: dict[str, NoticeRecord] = {}  # 一次告知书 by number
        self.notice_sequences: dict[str, int] = {}
        self.prereviews = PreReviewFold(self.key, settings.region_code)  # 预审 records
        self.projects = ProjectFold()  # 工程建设项目 and their stages' cases
        self.events = 0

    def key(self, *parts: str) -> str:
        return self.settings.key(SERVICE, *parts)

    def _id_key(self, id_type: str, sealed: str) -> str:
        try:
            return self.pii.lookup_hash(normalize(id_type, self.pii.unseal(sealed)))
        except UnsealError:
            log.warning("intake rebuild: an ID number sealed under another secret; its documents are not on file")
            return ""

    def _numbered(self, case_no: str) -> None:
        n = len(self.settings.region_code)
        day, sequence = case_no[n : n + 8], int(case_no[n + 8 : n + 14])
        self.sequences[day] = max(self.sequences.get(day, 0), sequence)

    def _on_file(self, id_key: str, case_no: str, item_code: str, materials: list[Material], skip: set[str]) -> None:
        offering = self.catalogue.offering(item_code)
        if offering is None or not id_key:
            return
        given = {m.code for m in materials} - skip
        docs = self.docs.setdefault(id_key, {})
        for m in self.catalogue.form(offering):
            if m.reusable and m.code in given:
                docs[m.name] = OnFile(case_no, m.code)

    def apply(self, env: Envelope) -> None:
        kind = _KINDS.get(env.type)
        if kind is None:
            return
        self.events += 1
        event: Any = msgspec.json.decode(env.payload, type=kind)
        if isinstance(event, CaseAccepted):
            id_key = self._id_key(event.applicant_id_type, event.applicant_id_number)
            owed = list(event.owed_materials)
            self.cases[env.case_id] = CaseRecord(
                case_no=event.case_no,
                item_code=event.item_code,
                applicant_id=id_key,
                owed=owed,
                clock_id=f"{event.case_no}:{SUPPLEMENT}" if owed else "",
            )
            self._numbered(event.case_no)
            reused = {m.code for m in event.reused_materials}
            self._on_file(id_key, event.case_no, event.item_code, event.materials, reused)
            self.projects.accepted(env, event)  # a project's stage (工程建设)
        elif isinstance(event, CaseRefused):
            id_key = self._id_key(event.applicant_id_type, event.applicant_id_number)
            self.cases[env.case_id] = CaseRecord(
                case_no=event.case_no, item_code=event.item_code, applicant_id=id_key, refused=True
            )
            self._numbered(event.case_no)
        elif isinstance(event, OneTimeNoticeIssued):
            id_key = self._id_key(event.applicant_id_type, event.applicant_id_number)
            self.notices[event.notice_no] = NoticeRecord(
                notice_no=event.notice_no,
                case_id=env.case_id,
                item_code=event.item_code,
                applicant_id=id_key,
                missing=event.missing,
            )
            n = len(self.settings.region_code)
            day, _, sequence = event.notice_no[n:].partition(NOTICE_SERIES)
            self.notice_sequences[day] = max(self.notice_sequences.get(day, 0), int(sequence))
        elif isinstance(event, ProjectRegistered | ProjectStageCompleted):
            self.projects.apply(event)
        elif isinstance(event, ApplicationPreSubmitted | PreReviewed):
            self.prereviews.apply(env, event)
        elif isinstance(event, ClockRequested):
            self.clocks[event.clock_id] = env.case_id
        elif isinstance(event, MaterialsSupplemented):
            record = self.cases.get(env.case_id)
            if record is None:
                return
            record.owed = list(event.remaining)
            if event.complete:
                record.suspended = False
            self._on_file(record.applicant_id, record.case_no, record.item_code, event.materials, set())
        elif isinstance(event, CaseSuspended):
            record = self.cases.get(env.case_id)
            if record is not None:
                record.suspended = True

    def into(self, memory: Memory) -> None:
        for case_id, record in self.cases.items():
            memory.strings[self.key("case", case_id)] = msgspec.json.encode(record)
        for day, sequence in self.sequences.items():
            memory.strings[self.key("seq", day)] = str(sequence).encode()
        for id_key, docs in self.docs.items():
            memory.hashes[self.key("docs", id_key)] = {
                name.encode(): msgspec.json.encode(on_file) for name, on_file in docs.items()
            }
        for clock_id, case_id in self.clocks.items():
            memory.strings[self.key("clock", clock_id)] = case_id.encode()
        for notice_no, notice in self.notices.items():
            memory.strings[self.key("notice", notice_no)] = msgspec.json.encode(notice)
        for day, sequence in self.notice_sequences.items():
            memory.strings[self.key("seq-notice", day)] = str(sequence).encode()
        self.prereviews.into(memory.strings)
        self.projects.into(memory.strings, self.key)


async def fold_into(settings: HallSettings, redis: Any, catalogue: Catalogue, pii: Pii) -> str:
    """Read intake's log and what its group may see again; write intake's keys; returns a summary."""
    bootstrap, ns = settings.kafka_bootstrap_servers, settings.namespace
    events = decoded(await read_topics(bootstrap, ns, [topics.INTAKE_EVENTS]))
    # Published order: one partition is one case's order; across cases, the producer's time stamps.
    events.sort(key=lambda pair: (pair[0].timestamp, pair[0].partition, pair[0].offset))
    fold, outputs = IntakeFold(settings, catalogue, pii), Outputs()
    for record, env in events:
        fold.apply(env)
        outputs.add(ns, record, env)
    outputs.add_replies(ns, await read_topics(bootstrap, ns, [topics.GATEWAY_REPLIES]))
    memory = Memory()
    fold.into(memory)
    markers = write_markers(memory, lambda event_id: settings.key(SERVICE, "done", event_id), outputs)
    await memory.flush(redis)
    return (
        f"{fold.events} events: {len(fold.cases)} cases, {len(fold.sequences)} daily sequences, "
        f"{len(fold.docs)} applicants' documents, {len(fold.clocks)} 补齐 clocks, "
        f"{len(fold.notices)} 一次告知书, {markers} markers"
    )


async def rebuild(settings: HallSettings, redis: Any, catalogue: Catalogue, pii: Pii, *, force: bool) -> str | None:
    """Rebuild intake's keys: always (``force``, ``./hall rebuild intake``) or only when they are gone."""
    fold = lambda: fold_into(settings, redis, catalogue, pii)  # noqa: E731
    if force:
        return await rebuild_service(redis, settings.namespace, SERVICE, fold)
    return await rebuild_if_empty(redis, settings.namespace, SERVICE, fold)
