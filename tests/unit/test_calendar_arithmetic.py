"""工作时间算术的性质: 期限从不落在非工作时间, 加上时限再量回来等于时限, 暂停按其工作时间顺延期限。

Hypothesis draws acceptance instants over 2025–2026 (both years the package knows) and office hours of several
halls; every property is checked in the hall's own working time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.timing import clocks
from services.timing.clocks import Pause
from shared.calendar import Limit, WorkingCalendar, parse_limit, parse_sessions
from shared.localtime import LOCAL

HALL = WorkingCalendar()
TOWN = WorkingCalendar(parse_sessions(["08:30-12:00", "14:30-17:30"]))
VILLAGE = WorkingCalendar(parse_sessions(["09:00-12:00"]))
CALENDARS = st.sampled_from([HALL, TOWN, VILLAGE])
# Starts from 2025 through mid-2028: official years and provisional ones (2027, 2028) alike.
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 6, 30, 23, 59), timezones=st.just(LOCAL)
).map(lambda moment: moment.replace(microsecond=0))
QUARTER_HOURS = st.integers(min_value=0, max_value=160).map(lambda n: n / 4)
WHOLE_DAYS = st.integers(min_value=1, max_value=15)
HALF_DAYS = st.integers(min_value=0, max_value=30).map(lambda n: n / 2)
PROPERTY = settings(max_examples=250, deadline=None, database=None)
EXACT = 1e-6


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL)


# ---------------------------------------------------------------- 期限从不落在非工作时间


@PROPERTY
@given(cal=CALENDARS, start=INSTANTS, value=HALF_DAYS, unit=st.sampled_from(["WD", "ND"]))
def test_a_day_based_deadline_is_closing_time_of_a_working_day(
    cal: WorkingCalendar, start: datetime, value: float, unit: str
) -> None:
    deadline = cal.deadline(start, value, unit)  # type: ignore[arg-type]
    assert cal.in_working_time(deadline), deadline
    if value == int(value):
        assert deadline == cal.closing(deadline.date())


@PROPERTY
@given(cal=CALENDARS, start=INSTANTS, hours=QUARTER_HOURS)
def test_a_working_hour_deadline_is_in_office_hours(cal: WorkingCalendar, start: datetime, hours: float) -> None:
    assert cal.in_working_time(cal.deadline(start, hours, "WH"))


# ---------------------------------------------------------------- 加上时限再量回来等于时限


@PROPERTY
@given(cal=CALENDARS, start=INSTANTS, hours=QUARTER_HOURS)
def test_working_hours_added_then_measured_give_the_limit_back(
    cal: WorkingCalendar, start: datetime, hours: float
) -> None:
    deadline = cal.deadline(start, hours, "WH")
    assert cal.elapsed(start, deadline, "WH") == pytest.approx(hours, abs=EXACT)


@PROPERTY
@given(cal=CALENDARS, start=INSTANTS, days=WHOLE_DAYS)
def test_working_days_added_then_measured_give_the_limit_back(cal: WorkingCalendar, start: datetime, days: int) -> None:
    deadline = cal.deadline(start, days, "WD")
    assert cal.elapsed(start, deadline, "WD") == pytest.approx(days, abs=EXACT)
    # Not a moment sooner: a minute before the deadline, the limit has not run out.
    assert cal.elapsed(start, deadline - timedelta(minutes=1), "WD") < days


@PROPERTY
@given(start=INSTANTS, hours=QUARTER_HOURS)
def test_natural_hours_added_then_measured_give_the_limit_back(start: datetime, hours: float) -> None:
    assert HALL.elapsed(start, HALL.deadline(start, hours, "NH"), "NH") == pytest.approx(hours, abs=EXACT)


@PROPERTY
@given(cal=CALENDARS, start=INSTANTS, hours=QUARTER_HOURS)
def test_adding_and_taking_away_working_time_are_inverse(cal: WorkingCalendar, start: datetime, hours: float) -> None:
    seconds = hours * 3600
    later = cal.add_working(start, seconds)
    assert cal.working_seconds(start, later) == pytest.approx(seconds, abs=EXACT)
    earlier = cal.subtract_working(later, seconds)
    assert cal.working_seconds(earlier, later) == pytest.approx(seconds, abs=EXACT)
    assert earlier <= later


@PROPERTY
@given(cal=CALENDARS, a=INSTANTS, b=INSTANTS, c=INSTANTS)
def test_working_time_adds_up_over_consecutive_spans(
    cal: WorkingCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    total = cal.working_seconds(a, b) + cal.working_seconds(b, c)
    assert cal.working_seconds(a, c) == pytest.approx(total, abs=EXACT)
    assert cal.working_seconds(c, a) == 0


# ---------------------------------------------------------------- 暂停按其工作时间顺延期限


def _clock(cal: WorkingCalendar, start: datetime, limit: Limit) -> clocks.ClockState:
    return clocks.start_clock(
        cal, clock_id="k", purpose="办件", case_id="c", case_no="1", started_at=start, promised=limit
    )


LIMITS = st.one_of(
    WHOLE_DAYS.map(lambda d: Limit(d, "WD")),
    HALF_DAYS.filter(lambda v: v > 0).map(lambda v: Limit(v, "WD")),
    QUARTER_HOURS.filter(lambda v: v > 0).map(lambda v: Limit(v, "WH")),
)
SPANS = st.integers(min_value=0, max_value=20 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))


@PROPERTY
@given(cal=CALENDARS, start=INSTANTS, limit=LIMITS, offset=SPANS, length=SPANS)
def test_a_pause_moves_the_deadline_by_exactly_its_working_time(
    cal: WorkingCalendar, start: datetime, limit: Limit, offset: timedelta, length: timedelta
) -> None:
    clock = _clock(cal, start, limit)
    before = clock.promised_deadline
    paused_at, resumed_at = start + offset, start + offset + length
    assert clocks.pause(clock, Pause(pause_id="特别程序:s1", reason="特别程序（检验）", start=paused_at))
    assert clocks.resume(clock, "特别程序:s1", resumed_at, "e2", cal)
    moved = cal.working_seconds(before, clock.promised_deadline)
    assert moved == pytest.approx(cal.working_seconds(paused_at, resumed_at), abs=EXACT)
    assert cal.in_working_time(clock.promised_deadline)


@PROPERTY
@given(cal=CALENDARS, start=INSTANTS, limit=LIMITS, spans=st.lists(st.tuples(SPANS, SPANS), min_size=1, max_size=4))
def test_overlapping_pauses_count_their_union_once(
    cal: WorkingCalendar, start: datetime, limit: Limit, spans: list[tuple[timedelta, timedelta]]
) -> None:
    """退回 during a 特别程序: the time both cover is paused once, not twice."""
    clock = _clock(cal, start, limit)
    before = clock.promised_deadline
    intervals = sorted((start + a, start + a + b) for a, b in spans)
    for n, (a, b) in enumerate(intervals):
        assert clocks.pause(clock, Pause(pause_id=f"p{n}", reason="退回补正", start=a))
        assert clocks.resume(clock, f"p{n}", b, f"e{n}", cal)
    union, reach = 0.0, start
    for a, b in intervals:
        if b > reach:
            union += cal.working_seconds(max(a, reach), b)
            reach = b
    assert cal.working_seconds(before, clock.promised_deadline) == pytest.approx(union, abs=EXACT)


@PROPERTY
@given(cal=CALENDARS, start=INSTANTS, limit=LIMITS, extra=st.integers(min_value=1, max_value=10))
def test_an_extension_is_not_a_pause_it_counts_from_the_deadline(
    cal: WorkingCalendar, start: datetime, limit: Limit, extra: int
) -> None:
    clock = _clock(cal, start, limit)
    before = clock.promised_deadline
    clocks.extend(clock, Limit(extra, "WD"), start, "e1", cal)
    assert clock.promised_deadline == cal.deadline(before, extra, "WD")
    assert cal.elapsed(before, clock.promised_deadline, "WD") == pytest.approx(extra, abs=EXACT)
    assert clock.pauses == []


# ---------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("paused", "resumed", "before", "after"),
    [
        # 1 WD from 09-30 10:00 ends 10-08 17:30; a pause of 2 working hours on 09-30 ends it 10-09 11:00.
        pytest.param("2026-09-30 13:30", "2026-09-30 15:30", "2026-10-08 17:30", "2026-10-09 11:00", id="2wh"),
        # Paused over the whole National Day holiday: only 09-30's afternoon counts (4 h: 9–12 and 13:30–14:30).
        pytest.param("2026-09-30 13:30", "2026-10-08 09:00", "2026-10-08 17:30", "2026-10-09 14:30", id="holiday"),
        # Paused only in the night: nothing moves.
        pytest.param("2026-09-30 18:00", "2026-10-01 08:00", "2026-10-08 17:30", "2026-10-08 17:30", id="night"),
    ],
)
def test_pauses_in_real_2026_dates(paused: str, resumed: str, before: str, after: str) -> None:
    clock = _clock(HALL, local("2026-09-30 10:00"), Limit(1, "WD"))
    assert clock.promised_deadline == local(before)
    clocks.pause(clock, Pause(pause_id="容缺中止", reason="容缺中止", start=local(paused)))
    clocks.resume(clock, "容缺中止", local(resumed), "e", HALL)
    assert clock.promised_deadline == local(after)


def test_limits_and_office_hours_are_read_from_text() -> None:
    assert parse_limit("0.5 WD") == Limit(0.5, "WD")
    assert parse_limit("4wh") == Limit(4, "WH")
    assert parse_sessions(["08:30-12:00"]) == ((time(8, 30), time(12)),)
    with pytest.raises(ValueError, match="WD/WH/ND/NH"):
        parse_limit("3 days")
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_sessions(["9点到12点"])
    with pytest.raises(ValueError, match="不重叠"):
        WorkingCalendar(parse_sessions(["13:00-17:00", "09:00-14:00"]))


def office_time_day_by_day(calendar: WorkingCalendar, a: datetime, b: datetime) -> float:
    """The definition: each day's sessions clipped to [a, b], summed over every working day."""
    a, b = a.astimezone(LOCAL), b.astimezone(LOCAL)
    total, day = 0.0, a.date()
    while day <= b.date():
        if calendar.is_working_day(day):
            for open_at, close_at in calendar.sessions:
                begin = max(a, datetime.combine(day, open_at, LOCAL))
                end = min(b, datetime.combine(day, close_at, LOCAL))
                total += max(0.0, (end - begin).total_seconds())
        day += timedelta(days=1)
    return total


@settings(max_examples=300, deadline=None)
@given(calendar=CALENDARS, a=INSTANTS, b=INSTANTS)
def test_working_seconds_counted_per_year_equal_summing_every_day(
    calendar: WorkingCalendar, a: datetime, b: datetime
) -> None:
    """Whole days between the two instants are counted from a running count per year (a remaining-time read on
    the board is O(years), not O(days)): the same office time as the day-by-day definition, across new years."""
    assert calendar.working_seconds(a, b) == pytest.approx(office_time_day_by_day(calendar, a, b) if b > a else 0.0)
