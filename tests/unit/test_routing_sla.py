"""The workbench's SLA colour of a step: derived from its clock's deadline, its pause and timing's alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.gateway.steps.sla import colour

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_a_step_before_its_deadline_without_alerts_is_normal() -> None:
    assert colour(NOW + timedelta(hours=1), False, [], NOW) == "正常"
    assert colour(None, False, [], NOW) == "正常"  # no clock yet: nothing says otherwise


def test_a_warning_alert_turns_it_yellow() -> None:
    assert colour(NOW + timedelta(hours=1), False, ["预警"], NOW) == "预警"


def test_past_the_deadline_it_is_overdue_even_before_timings_alert_arrives() -> None:
    assert colour(NOW - timedelta(minutes=1), False, [], NOW) == "逾期"
    assert colour(NOW, False, ["预警"], NOW) == "逾期"


def test_a_paused_clock_is_not_overdue_by_its_old_deadline() -> None:
    assert colour(NOW - timedelta(days=1), True, [], NOW) == "正常"
    assert colour(NOW - timedelta(days=1), True, ["预警"], NOW) == "预警"


def test_any_alert_past_the_warning_is_overdue() -> None:
    for level in ("逾期", "督办", "通报"):
        assert colour(NOW + timedelta(days=3), False, [level], NOW) == "逾期"
