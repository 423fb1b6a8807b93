"""一个时钟: 承诺与法定期限, 暂停台账, 延长, 预警/逾期/督办的时刻, 由期限与时刻推出的状态。"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.timing import clocks
from services.timing.clocks import ClockState, Pause
from shared.calendar import Limit, UnknownYear, WorkingCalendar, Years, parse_limit
from shared.halls import Escalation, HallPolicy, WarningRule, load_halls, parse_halls
from shared.localtime import LOCAL

CAL = WorkingCalendar()
ONE_DAY_BEFORE = HallPolicy(
    code="hall",
    warning=WarningRule(before=Limit(1, "WD")),
    escalation=(Escalation("督办", Limit(1, "WD")), Escalation("通报", Limit(3, "WD"))),
)
FIFTH_LEFT = HallPolicy(code="town", warning=WarningRule(share=0.2))


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL)


def new(start: str, limit: str, statutory: str | None = None, **kw: object) -> ClockState:
    return clocks.start_clock(
        CAL,
        clock_id="k1",
        purpose="办件",
        case_id="c1",
        case_no="150525202609300001",
        started_at=local(start),
        promised=parse_limit(limit),
        statutory=parse_limit(statutory) if statutory else None,
        **kw,  # type: ignore[arg-type]
    )


def test_promised_and_statutory_limits_are_kept_apart() -> None:
    clock = new("2026-09-30 10:00", "1WD", "20WD")
    assert clock.promised_deadline == local("2026-10-08 17:30")
    assert clock.statutory_deadline == local("2026-11-03 17:30")


def test_a_statutory_deadline_in_a_provisional_year_is_computed() -> None:
    clock = clocks.start_clock(
        CAL,
        clock_id="k",
        purpose="办件",
        case_id="c",
        case_no="n",
        started_at=local("2026-11-26 10:00"),
        promised=Limit(5, "WD"),
        statutory=Limit(60, "WD"),
    )
    assert clock.promised_deadline == local("2026-12-03 17:30")
    # 60 working days from 11-27: 25 to the end of 2026, 20 in January 2027 (元旦 off), then February with
    # 除夕 to 初三 and two 补假 days for the weekend ones (provisional: no make-up working days).
    assert clock.statutory_deadline == local("2027-02-25 17:30")
    assert clocks.provisional_years(clock, CAL) == []  # the promised deadline does not touch 2027
    assert clocks.touched_years(clock, CAL, ONE_DAY_BEFORE) == [2027]


def test_a_promised_deadline_in_a_provisional_year_is_computed_and_marked() -> None:
    clock = new("2026-12-28 10:00", "5WD")
    assert clock.promised_deadline == local("2027-01-05 17:30")  # 2027-01-01 (元旦) is off
    assert clocks.provisional_years(clock, CAL) == [2027]


def test_a_strict_calendar_refuses_a_provisional_year() -> None:
    strict = WorkingCalendar(years=Years(strict=True))
    with pytest.raises(UnknownYear, match="2027"):
        clocks.start_clock(
            strict,
            clock_id="k",
            purpose="办件",
            case_id="c",
            case_no="n",
            started_at=local("2026-12-28 10:00"),
            promised=Limit(5, "WD"),
        )


def test_not_after_caps_the_deadline() -> None:
    """补齐 is never later than the case's promised deadline."""
    clock = new("2026-09-30 10:00", "15WD", not_after=local("2026-10-09 17:30"))
    assert clock.promised_deadline == local("2026-10-09 17:30")


@pytest.mark.parametrize(
    ("policy", "limit", "warning"),
    [
        # 3 WD from 09-30 end 10-10 17:30 (a worked Saturday); one working day of office time is left from the
        # opening of that day.
        pytest.param(ONE_DAY_BEFORE, "3WD", "2026-10-10 09:00", id="one-working-day-before"),
        pytest.param(ONE_DAY_BEFORE, "1WD", "2026-10-08 09:00", id="one-day-limit-warns-on-its-only-day"),
        # 0.5 WD ends at closing today; one working day before that is before the start: warn at once.
        pytest.param(ONE_DAY_BEFORE, "0.5WD", "2026-09-30 10:00", id="short-limit-warns-at-start"),
        # 10 WH from 09-30 10:00 (6 h left that day) end 10-08 14:30; 2 WH before, over lunch, is 11:00.
        pytest.param(FIFTH_LEFT, "10WH", "2026-10-08 11:00", id="a-fifth-of-10-working-hours-left"),
        pytest.param(FIFTH_LEFT, "10NH", "2026-09-30 18:00", id="a-fifth-of-10-natural-hours-left"),
    ],
)
def test_the_warning_comes_a_span_or_a_share_before_the_deadline(policy: HallPolicy, limit: str, warning: str) -> None:
    clock = new("2026-09-30 10:00", limit)
    assert clocks.warning_at(clock, CAL, policy) == local(warning)


def test_alert_levels_come_in_order_and_each_once() -> None:
    clock = new("2026-09-30 10:00", "3WD")
    times = list(clocks.alert_times(clock, CAL, ONE_DAY_BEFORE))
    assert times == [
        ("预警", local("2026-10-10 09:00")),
        ("逾期", local("2026-10-10 17:30")),
        ("督办", local("2026-10-12 17:30")),
        ("通报", local("2026-10-14 17:30")),
    ]
    for level, _ in times:
        assert clocks.next_alert(clock, CAL, ONE_DAY_BEFORE) == (level, dict(times)[level])
        clock.alerted.append(level)
    assert clocks.next_alert(clock, CAL, ONE_DAY_BEFORE) is None


def test_a_paused_or_stopped_clock_raises_nothing() -> None:
    clock = new("2026-09-30 10:00", "3WD")
    clocks.pause(clock, Pause(pause_id="特别程序:s", reason="特别程序（检验）", start=local("2026-10-08 09:00")))
    assert clocks.next_alert(clock, CAL, ONE_DAY_BEFORE) is None
    clocks.resume(clock, "特别程序:s", local("2026-10-09 09:00"), "e", CAL)
    assert clocks.next_alert(clock, CAL, ONE_DAY_BEFORE) == ("预警", local("2026-10-12 09:00"))
    clocks.stop(clock, local("2026-10-09 10:00"), "e2", CAL)
    assert clocks.next_alert(clock, CAL, ONE_DAY_BEFORE) is None
    assert clocks.on_time(clock)


@pytest.mark.parametrize(
    ("now", "status"),
    [
        ("2026-09-30 10:00", "正常"),
        ("2026-10-10 08:59", "正常"),
        ("2026-10-10 09:00", "预警"),
        ("2026-10-10 17:29", "预警"),
        ("2026-10-10 17:30", "逾期"),
        ("2026-12-01 09:00", "逾期"),
    ],
)
def test_status_is_derived_from_the_deadline_and_the_instant(now: str, status: str) -> None:
    clock = new("2026-09-30 10:00", "3WD")
    assert clocks.status(clock, local(now), CAL, ONE_DAY_BEFORE) == status


def test_time_stands_still_for_the_status_while_paused_and_the_deadline_moves_with_the_pause() -> None:
    clock = new("2026-09-30 10:00", "3WD")
    clocks.pause(clock, Pause(pause_id="退回:s1", reason="退回补正", start=local("2026-10-08 09:00")))
    much_later = local("2026-11-20 10:00")
    assert clocks.status(clock, much_later, CAL, ONE_DAY_BEFORE) == "正常"
    live = clocks.live_deadline(clock, local("2026-10-09 09:00"), CAL)
    assert CAL.working_seconds(clock.promised_deadline, live) == 7 * 3600


def test_an_extension_moves_every_level_later() -> None:
    clock = new("2026-09-30 10:00", "3WD")
    clocks.extend(clock, Limit(2, "WD"), local("2026-10-09 10:00"), "e", CAL)
    assert clock.promised_deadline == local("2026-10-13 17:30")
    assert clocks.next_alert(clock, CAL, ONE_DAY_BEFORE) == ("预警", local("2026-10-13 09:00"))
    assert clock.saw("e")
    assert not clock.saw("other")


def test_stopping_a_paused_clock_ends_its_pause_there() -> None:
    clock = new("2026-09-30 10:00", "1WD")
    clocks.pause(clock, Pause(pause_id="容缺中止", reason="容缺中止", start=local("2026-10-08 09:00")))
    clocks.stop(clock, local("2026-10-09 09:00"), "e", CAL)
    assert not clock.paused
    assert clock.pauses[0].end == local("2026-10-09 09:00")
    assert clock.promised_deadline == local("2026-10-09 17:30")
    assert clocks.on_time(clock)


def test_the_halls_file_sets_office_hours_and_alert_rules_per_hall() -> None:
    halls = load_halls(Path(__file__).resolve().parents[2] / "data" / "halls.toml")
    assert halls.policy("hall").levels == ("预警", "逾期", "督办", "通报")
    assert halls.policy("town-dqtl").warning == WarningRule(share=0.2)
    assert halls.policy("village-bytl").levels == ("预警", "逾期", "督办")
    assert halls.policy("unknown-point") is halls.default
    with pytest.raises(ValueError, match="督办层级重名"):
        parse_halls({"default": {"escalation": [{"level": "逾期", "after": "1WD"}]}})
    with pytest.raises(ValueError, match="0% 与 100%"):
        parse_halls({"default": {"warning": "120%"}})
    with pytest.raises(ValueError, match="不认识的项"):
        parse_halls({"halls": {"hall": {"hours": []}}})


def test_a_clock_without_a_warning_rule_goes_straight_to_overdue() -> None:
    policy = HallPolicy(code="x", warning=None)
    clock = new("2026-09-30 10:00", "1WD")
    assert list(clocks.alert_times(clock, CAL, policy)) == [("逾期", local("2026-10-08 17:30"))]
    assert clocks.status(clock, local("2026-10-08 17:00"), CAL, policy) == "正常"
    assert clocks.status(clock, local("2026-10-08 17:00") + timedelta(hours=1), CAL, policy) == "逾期"


def test_a_level_in_a_provisional_year_is_computed_and_indexed() -> None:
    """A 24 NH clock ending on 2026-12-31: 督办 (1 WD later) lies in 2027, computed with the provisional year
    (2027-01-01 is 元旦), and the clock is listed for revision under 2027."""
    clock = clocks.start_clock(
        CAL,
        clock_id="k",
        purpose="补齐",
        case_id="c",
        case_no="n",
        started_at=local("2026-12-30 17:00"),
        promised=Limit(24, "NH"),
    )
    clock.alerted.extend(["预警"])
    assert clocks.next_alert(clock, CAL, ONE_DAY_BEFORE) == ("逾期", local("2026-12-31 17:00"))
    clock.alerted.append("逾期")
    assert dict(clocks.alert_times(clock, CAL, ONE_DAY_BEFORE))["督办"] == local("2027-01-04 17:30")
    assert clocks.next_alert(clock, CAL, ONE_DAY_BEFORE) == ("督办", local("2027-01-04 17:30"))
    assert clocks.provisional_years(clock, CAL) == []
    assert clocks.touched_years(clock, CAL, ONE_DAY_BEFORE) == [2027]
