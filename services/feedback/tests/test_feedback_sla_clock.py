"""Deadline arithmetic with fixed instants: weekends, holidays, opening hours, time zones, pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm_feedback.sla.clock import Calendar, add_working_time, working_time_between

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Mon–Fri 09:00–18:00 Shanghai time; 2026-10-01 (Thursday) is National Day.
OFFICE = Calendar(
    timezone=SHANGHAI,
    weekdays=frozenset({0, 1, 2, 3, 4}),
    opens=time(9),
    closes=time(18),
    holidays=frozenset({date(2026, 10, 1)}),
)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


def test_around_the_clock_without_calendar() -> None:
    start = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    assert add_working_time(start, timedelta(hours=4)) == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_within_one_working_day() -> None:
    assert add_working_time(sh(2026, 11, 25, 10, 0), timedelta(hours=3), OFFICE) == sh(2026, 11, 25, 13, 0)


def test_before_opening_starts_at_opening() -> None:
    assert add_working_time(sh(2026, 11, 25, 7, 30), timedelta(minutes=30), OFFICE) == sh(2026, 11, 25, 9, 30)


def test_friday_afternoon_rolls_over_the_weekend() -> None:
    # Friday 16:00 + 4 working hours = 2 h on Friday + 2 h on Monday.
    assert add_working_time(sh(2026, 11, 27, 16, 0), timedelta(hours=4), OFFICE) == sh(2026, 11, 30, 11, 0)


def test_saturday_start_waits_for_monday() -> None:
    assert add_working_time(sh(2026, 11, 28, 12, 0), timedelta(hours=1), OFFICE) == sh(2026, 11, 30, 10, 0)


def test_holiday_is_skipped() -> None:
    # Wednesday 17:00 + 2 h: 1 h Wednesday, Thursday is a holiday, 1 h Friday.
    assert add_working_time(sh(2026, 9, 30, 17, 0), timedelta(hours=2), OFFICE) == sh(2026, 10, 2, 10, 0)


def test_multi_day_target() -> None:
    # 24 working hours from Monday 09:00 = 2 full days (18 h) + 6 h on Wednesday.
    assert add_working_time(sh(2026, 11, 23, 9, 0), timedelta(hours=24), OFFICE) == sh(2026, 11, 25, 15, 0)


def test_pause_stops_the_clock() -> None:
    start = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    pause = (datetime(2026, 11, 26, 9, 0, tzinfo=UTC), datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    assert add_working_time(start, timedelta(hours=2), None, [pause]) == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


def test_pause_across_a_weekend_inside_business_hours() -> None:
    # Friday 10:00 + 8 h, waiting on the customer from Friday 11:00 to Monday 14:00:
    # 1 h Friday before the pause, then Monday 14:00–18:00 (4 h), Tuesday 09:00–12:00 (3 h).
    pause = (sh(2026, 11, 27, 11, 0), sh(2026, 11, 30, 14, 0))
    assert add_working_time(sh(2026, 11, 27, 10, 0), timedelta(hours=8), OFFICE, [pause]) == sh(2026, 12, 1, 12, 0)


def test_overlapping_pauses_count_once() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    pauses = [
        (start + timedelta(hours=1), start + timedelta(hours=3)),
        (start + timedelta(hours=2), start + timedelta(hours=4)),
    ]
    assert add_working_time(start, timedelta(hours=2), None, pauses) == start + timedelta(hours=5)


def test_daylight_saving_change_keeps_local_hours() -> None:
    berlin = Calendar(ZoneInfo("Europe/Berlin"), frozenset(range(5)), time(9), time(17))
    # Friday 2026-10-23 16:00 CEST + 2 h → 1 h Friday, Monday 26th (CET, UTC+1) 10:00 local.
    start = datetime(2026, 10, 23, 16, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    due = add_working_time(start, timedelta(hours=2), berlin)
    assert due == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_working_time_between_is_the_inverse() -> None:
    start = sh(2026, 11, 27, 16, 0)
    due = add_working_time(start, timedelta(hours=11), OFFICE)
    assert working_time_between(start, due, OFFICE) == timedelta(hours=11)
    assert working_time_between(sh(2026, 11, 28, 9, 0), sh(2026, 11, 29, 18, 0), OFFICE) == timedelta(0)


def test_calendar_without_working_time_is_refused() -> None:
    never = Calendar(SHANGHAI, frozenset({0}), time(9), time(10), holidays=frozenset())
    closed_mondays = Calendar(SHANGHAI, frozenset(), time(9), time(10))
    assert add_working_time(sh(2026, 11, 23, 9, 0), timedelta(minutes=30), never) == sh(2026, 11, 23, 9, 30)
    with pytest.raises(ValueError, match="no working time"):
        add_working_time(sh(2026, 11, 23, 9, 0), timedelta(minutes=30), closed_mondays)
