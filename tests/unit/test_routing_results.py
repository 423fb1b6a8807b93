"""Routing records each item's result at its 决定 (issue 13, item 9), pure: the licence a grant issues, the
refusals that name the field, and every child's own result on CaseCompleted and CaseDelivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from services.routing import window
from services.routing.handlers import rules_of
from services.routing.messages import CaseAccepted, CaseCompleted, CaseDelivered, Child, Limit, StepDecided
from services.routing.model import RoutedCase
from services.routing.plan import open_case
from services.routing.steps import Licence, Rules, Who, decide
from shared.catalogue import load_catalogue
from shared.replies import Refusal

AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
LATER = AT + timedelta(hours=1)
CASE_NO = "15052520260302000042"
QUALIFICATION = "11150525000120006"  # 建设工程企业资质: issues 建设工程企业资质证书
GAS = "11150525000120002"  # 用气报装: issues no licence
CATALOGUE = load_catalogue()


def case_of(item_code: str, *children: tuple[str, str]) -> RoutedCase:
    kids = [
        Child(
            case_no=f"{CASE_NO}-{n:02d}",
            item_code=code,
            item_name=f"事项{n}",
            department=f"部门{n}",
            promised_limit=Limit(1, "WD"),
        )
        for n, (code, _) in enumerate(children, start=1)
    ]
    event = CaseAccepted(
        case_no=CASE_NO,
        item_code=item_code,
        item_name="事项",
        departments=["住建局"] if not kids else [k.department for k in kids],
        promised_limit=Limit(5, "WD"),
        children=kids,
    )
    case, _ = open_case("c42", event, AT)
    return case


def run(case: RoutedCase, track: int, *, last: str = "通过", licence: Licence | None = None) -> list[msgspec.Struct]:
    """承办 and 审核 passed by two people, then the 决定 (``last``) by a third with ``licence``."""
    published: list[msgspec.Struct] = []
    for seq in (1, 2, 3):
        step = next(s for s in case.steps if s.track == track and s.seq == seq)
        who = Who(id=f"p{seq}", name=f"人员{seq}", department=step.department)
        rules = rules_of(CATALOGUE, case.track(track).item_code)
        action = last if seq == 3 else "通过"
        published += decide(
            case,
            step.step_id,
            action=action,  # type: ignore[arg-type]
            opinion="理由" if action == "不予许可" else "同意",
            who=who,
            at=LATER,
            rules=rules,
            licence=licence if seq == 3 else None,
        )
    return published


def test_a_grant_of_an_item_that_issues_a_licence_needs_its_number() -> None:
    case = case_of(QUALIFICATION)
    with pytest.raises(Refusal) as refused:
        run(case, 1)
    assert refused.value.status == 422
    assert refused.value.reason == "准予决定须填写证照编号（licence_no）：本事项准予后颁发建设工程企业资质证书"
    assert case.status == "办理中"
    assert case.steps[-1].status == "待办"  # nothing changed on the refusal


def test_the_licence_is_recorded_at_the_decision_and_named_from_the_catalogue() -> None:
    case = case_of(QUALIFICATION)
    published = run(case, 1, licence=Licence(number=" D3150525 ", validity="长期"))
    decided = [e for e in published if isinstance(e, StepDecided)][-1]
    assert (decided.licence_name, decided.licence_no, decided.validity) == ("建设工程企业资质证书", "D3150525", "长期")
    [completed] = [e for e in published if isinstance(e, CaseCompleted)]
    [item] = completed.items
    assert (item.result, item.licence_name, item.licence_no) == ("准予", "建设工程企业资质证书", "D3150525")
    [delivered] = window.deliver(case, "窗口", "", LATER)
    assert isinstance(delivered, CaseDelivered)
    assert delivered.items == completed.items


def test_licence_fields_belong_to_a_grant_at_the_decision_only() -> None:
    case = case_of(GAS)
    step = case.steps[0]
    with pytest.raises(Refusal) as early:
        decide(
            case,
            step.step_id,
            action="通过",
            opinion="同意",
            who=Who(id="p1", name="人员1", department=step.department),
            at=LATER,
            rules=Rules(),
            licence=Licence(name="证", number="1"),
        )
    assert early.value.status == 422
    assert "只在决定环节准予时填写" in early.value.reason
    with pytest.raises(Refusal) as nameless:
        run(case_of(GAS), 1, licence=Licence(number="N1"))
    assert nameless.value.reason == "填写证照编号须同时填写证照名称（licence_name）"
    granted = run(case_of(GAS), 1)  # an item that issues no licence is granted without one
    [completed] = [e for e in granted if isinstance(e, CaseCompleted)]
    assert completed.items[0].licence_name == ""


def test_a_bundle_lists_every_childs_own_result() -> None:
    case = case_of("B0001", (QUALIFICATION, ""), (GAS, ""), (GAS, ""), (GAS, ""))
    published = run(case, 1, last="不予许可")
    for track in (2, 3, 4):
        published += run(case, track)
    [completed] = [e for e in published if isinstance(e, CaseCompleted)]
    assert completed.result == "不予"
    assert [(i.case_no, i.result) for i in completed.items] == [
        (f"{CASE_NO}-01", "不予"),
        (f"{CASE_NO}-02", "准予"),
        (f"{CASE_NO}-03", "准予"),
        (f"{CASE_NO}-04", "准予"),
    ]
    assert completed.items[0].reason == "理由"
