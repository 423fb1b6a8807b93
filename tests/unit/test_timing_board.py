"""The SLA board's derivations: status from the deadline, the warning moment, a pause and timing's alerts; counts
by department, item and clerk; the on-time rate per period."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.gateway.sla.board import Alert, Entry, board, rates, status

LOCAL = ZoneInfo("Asia/Shanghai")
DEADLINE = datetime(2026, 10, 10, 17, 30, tzinfo=LOCAL)
WARNING = datetime(2026, 10, 10, 9, 0, tzinfo=LOCAL)


def later(days: int) -> dict[str, datetime]:
    return {"deadline": DEADLINE + timedelta(days=days), "warning_at": WARNING + timedelta(days=days)}


def entry(**changes: object) -> Entry:
    fields: dict[str, object] = {
        "clock_id": "k1",
        "purpose": "办件",
        "case_id": "c1",
        "case_no": "N1",
        "department": "自然资源局",
        "item_name": "查封登记",
        "owner_name": "张敏",
        "started_at": datetime(2026, 9, 30, 10, tzinfo=LOCAL),
        "deadline": DEADLINE,
        "warning_at": WARNING,
    }
    fields.update(changes)
    return Entry(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (WARNING - timedelta(seconds=1), "正常"),
        (WARNING, "预警"),
        (DEADLINE - timedelta(seconds=1), "预警"),
        (DEADLINE, "逾期"),
    ],
)
def test_status_is_derived_from_the_deadline_at_read_time(now: datetime, expected: str) -> None:
    assert status(entry(), now) == (expected, "")


def test_a_paused_clock_keeps_the_status_it_had_when_it_stopped_running() -> None:
    paused = entry(paused_at=WARNING - timedelta(hours=1))
    assert status(paused, DEADLINE + timedelta(days=30)) == ("正常", "")


def test_alerts_for_the_current_deadline_count_and_stale_ones_do_not() -> None:
    early = WARNING - timedelta(days=1)
    raised = entry(alerts=[Alert("预警", DEADLINE), Alert("逾期", DEADLINE), Alert("督办", DEADLINE)])
    assert status(raised, early) == ("逾期", "督办")
    # An extension moved the deadline after those alerts: they were about the old one.
    moved = entry(deadline=DEADLINE + timedelta(days=5), warning_at=WARNING + timedelta(days=5), alerts=raised.alerts)
    assert status(moved, early) == ("正常", "")


def test_the_board_counts_by_department_item_and_clerk_and_lists_the_closest() -> None:
    now = WARNING + timedelta(hours=1)
    entries = [
        entry(),
        entry(clock_id="k2", case_no="N2", deadline=DEADLINE - timedelta(days=2), warning_at=None),
        entry(clock_id="k3", case_no="N3", department="税务局", owner_name="王磊", **later(days=9)),
        entry(clock_id="k4", case_no="N4", purpose="环节"),
        entry(clock_id="k5", case_no="N5", stopped_at=now, on_time=True),
        entry(clock_id="k6", case_no="N6", purpose="子件", paused_at=now - timedelta(days=1)),
    ]
    view = board(entries, {}, now)
    assert (view.totals.normal, view.totals.warning, view.totals.overdue, view.totals.paused) == (2, 1, 1, 1)
    assert [r.case_no for r in view.overdue] == ["N2"]
    assert [r.case_no for r in view.warnings] == ["N1"]
    assert [r.case_no for r in view.closest] == ["N1", "N3"]  # paused and overdue clocks are not "closest"
    nrc = next(c for c in view.by_department if c.name == "自然资源局")
    assert (nrc.normal, nrc.warning, nrc.overdue) == (1, 1, 1)
    assert [c.name for c in view.by_clerk] == ["张敏", "王磊"]
    assert board(entries, {}, now, purpose="环节").totals.warning == 1
    assert board(entries, {}, now, department="税务局").totals.normal == 1
    assert view.overdue[0].remaining_s < 0


def test_the_on_time_rate_per_period() -> None:
    done = {"2026-11-27:on": 3, "2026-11-27:late": 1, "2026-11-23:on": 4, "2026-11-02:late": 2, "2025-12-31:on": 9}
    found = {r.period: (r.on_time, r.late, r.rate) for r in rates(done, date(2026, 11, 27))}
    assert found["今日"] == (3, 1, 0.75)
    assert found["本周"] == (7, 1, 0.875)  # Monday 11-23 onwards
    assert found["本月"] == (7, 3, 0.7)
    assert found["本年"] == (7, 3, 0.7)
    assert rates({}, date(2026, 11, 27))[0].rate is None
