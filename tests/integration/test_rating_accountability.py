"""好差评 accountability (谁办理谁负责, issue 13 item 8) over HTTP on the real hall (Kafka, Redis, timing's clocks):

- a 受理-stage bad review of a window clerk is charged to the window (the point's department 行政审批和政务服务局
  and clerk-zhang), not to the item's deciding department; a 办结 one to the deciding department and handler;
- an appeal is refused to the rated department's supervisor (403 naming the rule) and decided by the hall's
  政务服务管理机构 (``hall-supervisor``);
- the statistics, against a hand-computed set with a 无效差评 and window-stage ratings;
- the 回访 deadline (1 WD after 整改完成) on timing's clock, shown on the desk and the SLA board, overdue once passed;
- the correction deadline after its one extension.

Each test runs a hall of its own (a fresh namespace, a ManualClock), so its statistics are its own cases only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.calendar import WorkingCalendar
from shared.clock import SYSTEM_CLOCK, ManualClock
from shared.settings import HallSettings
from tests.halls import InProcessHall, fresh_settings, in_process_hall
from tests.journeys import CLERK, KIOSK, KIOSK_PROOF, _next_step, all_items, auth, state, submit
from tests.support import eventually

pytestmark = pytest.mark.integration

PAD = auth("pad-01")  # stands at clerk-zhang's window (行政审批和政务服务局, the banner hall)
STAFF, COLLEAGUE, BOSS = auth("zrzy-li"), auth("zrzy-sun"), auth("zrzy-boss")  # 自然资源局 decides the item
HALL_BOSS = auth("hall-boss")  # 政务服务管理机构 (行政审批和政务服务局)
OPERATOR = auth("op-qian")
WINDOW = "行政审批和政务服务局"
DECIDING = "自然资源局"
RULE = "被评价部门不能裁决对本部门的申诉"


@pytest.fixture
async def hall(settings: HallSettings) -> AsyncIterator[tuple[InProcessHall, ManualClock]]:
    clock = ManualClock(SYSTEM_CLOCK.now())
    async with in_process_hall(await fresh_settings(settings), clock=clock) as running:
        yield running, clock


async def followup_where(
    hall: InProcessHall, followup_id: str, ready: Callable[[dict[str, Any]], bool], headers: dict[str, str]
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await hall.client.get(f"/api/ratings/followups/{followup_id}", headers=headers)
        if answer.status_code != 200:
            return None
        followup: dict[str, Any] = answer.json()["followup"]
        return followup if ready(followup) else None

    return await eventually(probe)


async def rate(hall: InProcessHall, case_no: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    async def attempt() -> Any:
        answer = await hall.client.post(f"/api/cases/{case_no}/ratings", json=body, headers=headers)
        waiting = answer.status_code == 404 or (answer.status_code == 409 and "尚未" in answer.text)
        return None if waiting else answer  # the gateway or evaluation may not know the case (or delivery) yet

    return await eventually(attempt)


async def decide_and_deliver(hall: InProcessHall, case_no: str) -> None:
    """承办 zrzy-li, 审核 zrzy-sun, 决定 zrzy-boss (three people: separation of duties); clerk-wang delivers."""
    done: set[str] = set()
    for opinion, who in (("材料齐全", STAFF), ("审核同意", COLLEAGUE), ("准予", BOSS)):
        step_id = await _next_step(hall.client, case_no, 0.1, done)
        decided = await hall.client.post(
            f"/api/steps/{step_id}/decision", json={"action": "通过", "opinion": opinion}, headers=who
        )
        assert decided.status_code in (200, 202), decided.text
        done.add(step_id)
    await state(hall.client, case_no, "已办结")
    delivered = await hall.client.post(
        f"/api/deliveries/{case_no}", json={"method": "窗口"}, headers=auth("clerk-wang")
    )
    assert delivered.status_code in (200, 202), delivered.text
    await state(hall.client, case_no, "已出件")


async def test_a_window_bad_review_is_the_windows_and_an_appeal_is_ruled_outside_the_rated_department(
    hall: tuple[InProcessHall, ManualClock],
) -> None:
    running, _ = hall
    client = running.client
    case_no = await submit(client)  # 查封登记 (自然资源局 decides), accepted by clerk-zhang at the banner hall

    # 受理-stage bad review at clerk-zhang's pad: the window's, not 自然资源局's.
    bad = await rate(running, case_no, {"level": "非常不满意", "channel": "评价器", "stage": "受理"}, PAD)
    assert bad.status_code == 201, bad.text
    window_followup = bad.json()["followup_id"]
    shown = await followup_where(running, window_followup, lambda f: f["deadline"] is not None, HALL_BOSS)
    assert (shown["department"], shown["clerk"], shown["departments"]) == (WINDOW, "clerk-zhang", [WINDOW])
    assert [(c["to"], c["department"], c["clerk"], c["point"]) for c in shown["charged"]] == [
        ("window", WINDOW, "clerk-zhang", "hall")
    ]
    foreign = await client.get(f"/api/ratings/followups/{window_followup}", headers=STAFF)
    assert foreign.status_code == 403
    assert f"该差评由{WINDOW}处理" in foreign.json()["detail"]
    listed = await all_items(client, "/api/ratings/followups", STAFF)
    assert window_followup not in [f["followup_id"] for f in listed]
    ratings = (await client.get(f"/api/cases/{case_no}/ratings", headers=OPERATOR)).json()["ratings"]
    assert [(r["stage"], r["department"], r["clerk"]) for r in ratings] == [("受理", WINDOW, "clerk-zhang")]

    # 办结: decided by zrzy-boss of 自然资源局 (the handler of 决定), delivered by clerk-wang; a bad 办结 rating is
    # the deciding department's and handler's.
    await decide_and_deliver(running, case_no)
    decided = await rate(
        running,
        case_no,
        {"level": "不满意", "channel": "自助终端", "stage": "办结", "text": "审批慢", **KIOSK_PROOF},
        KIOSK,
    )
    assert decided.status_code == 201, decided.text
    followup_id = decided.json()["followup_id"]
    followup = await followup_where(running, followup_id, lambda f: f["deadline"] is not None, STAFF)
    assert (followup["department"], followup["clerk"], followup["stage"]) == (DECIDING, "zrzy-boss", "办结")

    # 自然资源局 files the appeal; its own supervisor may not rule on it; the 政务服务管理机构 does.
    base = f"/api/ratings/followups/{followup_id}"
    appealed = await client.post(
        f"{base}/verification",
        json={"outcome": "申诉", "reply": "经核实系误评", "appeal_reason": "评价人误选事项"},
        headers=STAFF,
    )
    assert appealed.status_code == 200, appealed.text
    visited = await client.post(f"{base}/return-visit", json={"method": "电话", "note": "已说明"}, headers=STAFF)
    assert visited.status_code == 200, visited.text
    ruling = {"upheld": True, "opinion": "录像显示评价人误选"}
    own = await client.post(f"{base}/appeal-review", json=ruling, headers=BOSS)
    assert own.status_code == 403
    assert own.json()["detail"].startswith(RULE)
    other = await client.post(f"{base}/appeal-review", json=ruling, headers=auth("zj-boss"))
    assert other.status_code == 403
    assert "政务服务管理机构" in other.json()["detail"]
    seen = await client.get(base, headers=HALL_BOSS)  # the appeal judge sees the appealed review
    assert seen.status_code == 200, seen.text
    ruled = await client.post(f"{base}/appeal-review", json=ruling, headers=HALL_BOSS)
    assert ruled.status_code == 200, ruled.text
    assert (ruled.json()["status"], ruled.json()["appeal_reviewed_by"]) == ("无效差评", "hall-boss")

    # The window's own appeal: 政务服务管理机构 is then the rated department; only an operator rules on it.
    window_base = f"/api/ratings/followups/{window_followup}"
    window_appeal = await client.post(
        f"{window_base}/verification",
        json={"outcome": "申诉", "reply": "已核实", "appeal_reason": "评价器误触"},
        headers=HALL_BOSS,
    )
    assert window_appeal.status_code == 200, window_appeal.text
    refused = await client.post(
        f"{window_base}/appeal-review", json={"upheld": False, "opinion": "理由不足"}, headers=HALL_BOSS
    )
    assert (refused.status_code, refused.json()["detail"].startswith(RULE)) == (403, True)
    by_operator = await client.post(
        f"{window_base}/appeal-review", json={"upheld": False, "opinion": "理由不足"}, headers=OPERATOR
    )
    assert (by_operator.status_code, by_operator.json()["status"]) == (200, "整改中")


async def test_statistics_leave_invalid_bad_reviews_out_and_charge_window_ratings_to_the_window(
    hall: tuple[InProcessHall, ManualClock],
) -> None:
    running, _ = hall
    client = running.client
    one, two, three = await submit(client), await submit(client), await submit(client)
    # 受理 at clerk-zhang's window: one 非常满意, two 满意, three 不满意 (appealed and ruled 无效差评 below).
    for case_no, level in ((one, "非常满意"), (two, "满意"), (three, "不满意")):
        answer = await rate(running, case_no, {"level": level, "channel": "评价器", "stage": "受理"}, PAD)
        assert answer.status_code == 201, answer.text
    followup_id = answer.json()["followup_id"]
    # one is decided by zrzy-boss and rated 基本满意 at 办结 (自然资源局's).
    await decide_and_deliver(running, one)
    done = await rate(running, one, {"level": "基本满意", "channel": "自助终端", "stage": "办结", **KIOSK_PROOF}, KIOSK)
    assert done.status_code == 201, done.text
    # three's window bad review: appealed by the window's department (hall-boss), ruled 无效 by the operator.
    base = f"/api/ratings/followups/{followup_id}"
    await followup_where(running, followup_id, lambda f: f["deadline"] is not None, HALL_BOSS)
    appeal = {"outcome": "申诉", "reply": "已核实", "appeal_reason": "评价器误触"}
    assert (await client.post(f"{base}/verification", json=appeal, headers=HALL_BOSS)).status_code == 200
    visit = {"method": "电话", "note": "评价人确认误触"}
    assert (await client.post(f"{base}/return-visit", json=visit, headers=HALL_BOSS)).status_code == 200
    ruled = await client.post(f"{base}/appeal-review", json={"upheld": True, "opinion": "误触"}, headers=OPERATOR)
    assert ruled.status_code == 200, ruled.text

    async def stats(**params: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            answer = await client.get("/api/ratings/stats", params=params, headers=HALL_BOSS)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body if body["total"]["invalid"] == 1 and body["total"]["services"] == 3 else None

        return await eventually(probe)

    # Hand count. First ratings: one/受理 非常满意, two/受理 满意, three/受理 不满意 (无效差评: left out), one/办结
    # 基本满意 → 3 services, all given, all good: 好评率 3/3; bad reviews 0 valid, 1 invalid (shown apart).
    body = await stats(by="department")
    total = body["total"]
    assert (total["services"], total["active"], total["good"], total["bad_reviews"], total["invalid"]) == (
        3,
        3,
        3,
        0,
        1,
    )
    assert (total["good_rate"], total["active_good_rate"], total["unrated_rate"]) == (1.0, 1.0, 0.0)
    assert total["reply_rate"] is None
    assert total["visit_correction_rate"] is None
    groups = {g["group"]: g for g in body["groups"]}
    # 行政审批和政务服务局 (the window): one/受理 and two/受理 counted, three's 无效差评 apart; 自然资源局: one/办结.
    assert (groups[WINDOW]["services"], groups[WINDOW]["invalid"], groups[WINDOW]["good_rate"]) == (2, 1, 1.0)
    assert (groups[DECIDING]["services"], groups[DECIDING]["invalid"]) == (1, 0)
    clerks = {g["group"]: g["services"] for g in (await stats(by="clerk"))["groups"]}
    assert clerks == {"clerk-zhang": 2, "zrzy-boss": 1}
    page = await client.get("/ratings/stats", params={"by": "department"}, headers=HALL_BOSS)
    assert page.status_code == 200
    assert "无效差评" in page.text
    assert '<td class="invalid">1</td>' in page.text
    public = await client.get("/public/ratings")
    assert '<strong id="invalid">1</strong>' in public.text


async def test_the_return_visit_has_a_deadline_on_timings_clock_and_the_extended_deadline_is_shown(
    hall: tuple[InProcessHall, ManualClock],
) -> None:
    running, clock = hall
    client = running.client
    case_no = await submit(client)
    bad = await rate(
        running,
        case_no,
        {"level": "不满意", "channel": "自助终端", "stage": "受理", "text": "排队久", **KIOSK_PROOF},
        KIOSK,
    )
    assert bad.status_code == 201, bad.text
    followup_id = bad.json()["followup_id"]
    base = f"/api/ratings/followups/{followup_id}"
    first = await followup_where(running, followup_id, lambda f: f["deadline"] is not None, HALL_BOSS)
    opened = datetime.fromisoformat(first["opened_at"])
    calendar = WorkingCalendar()
    assert datetime.fromisoformat(first["deadline"]) == calendar.deadline(opened, 15, "WD")

    corrected = await client.post(
        f"{base}/verification", json={"outcome": "整改", "reply": "将增设叫号引导"}, headers=HALL_BOSS
    )
    assert corrected.status_code == 200, corrected.text
    extended = await client.post(f"{base}/extension", json={"reason": "需采购叫号设备"}, headers=HALL_BOSS)
    assert extended.status_code == 200, extended.text
    # After the one extension the deadline is timing's answer for the new clock, 15 WD on from the first one: in
    # the extension's own answer (it was null there), at the desk API and on the page.
    new_deadline = calendar.deadline(datetime.fromisoformat(first["deadline"]), 15, "WD")
    assert extended.json()["extended"] is True
    assert extended.json()["deadline"] is not None, extended.text
    assert datetime.fromisoformat(extended.json()["deadline"]) == new_deadline
    after = await followup_where(running, followup_id, lambda f: f["extended"], HALL_BOSS)
    assert datetime.fromisoformat(after["deadline"]) == new_deadline
    assert datetime.fromisoformat(after["extended_from"]) == datetime.fromisoformat(first["deadline"])
    desk = await client.get("/ratings/desk", params={"id": followup_id}, headers=HALL_BOSS)
    assert "计时中" not in desk.text
    assert "（已延期）" in desk.text

    # 整改完成 before the visit: the 回访 deadline (1 WD) starts on timing's clock.
    closed = await client.post(
        f"{base}/closing", json={"outcome": "整改完成", "explanation": "已增设叫号引导"}, headers=HALL_BOSS
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "整改完成"
    due = await followup_where(running, followup_id, lambda f: f["visit_deadline"] is not None, HALL_BOSS)
    closed_at = datetime.fromisoformat(due["closed_at"])
    assert datetime.fromisoformat(due["visit_deadline"]) == calendar.deadline(closed_at, 1, "WD")
    assert due["visit_overdue"] is False

    async def on_board(status: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            answer = await client.get("/api/sla/board", params={"purpose": "回访"}, headers=OPERATOR)
            assert answer.status_code == 200, answer.text
            rows = [r for r in (*answer.json()["overdue"], *answer.json()["closest"]) if r["case_no"] == case_no]
            return rows[0] if rows and rows[0]["status"] == status else None

        return await eventually(probe)

    row = await on_board("正常")
    assert row["purpose"] == "回访"
    assert datetime.fromisoformat(row["deadline"]) == calendar.deadline(closed_at, 1, "WD")

    clock.advance(timedelta(days=5))  # past the 1-WD 回访 deadline
    late = await followup_where(running, followup_id, lambda f: f["visit_overdue"], HALL_BOSS)
    assert late["visit"] is None
    assert (await on_board("逾期"))["purpose"] == "回访"
    desk = await client.get("/ratings/desk", params={"id": followup_id}, headers=HALL_BOSS)
    assert "回访逾期" in desk.text
    visited = await client.post(f"{base}/return-visit", json={"method": "电话", "note": "已致歉"}, headers=HALL_BOSS)
    assert visited.status_code == 200, visited.text
    history = (await client.get(base, headers=HALL_BOSS)).json()["history"]
    changes = [c["change"] for c in history]
    assert "整改完成：已增设叫号引导；待回访" in changes
    assert any(c.startswith("回访逾期（期限 ") for c in changes)
    timeline = (await client.get(f"/api/cases/{case_no}", headers=CLERK)).json()["timeline"]
    assert any(e["summary"].startswith("差评回访计时，回访期限 ") for e in timeline)
