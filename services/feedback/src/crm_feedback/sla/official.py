"""Official working calendars an SLA business calendar can follow: China's (`CN`), from the
maintained `chinesecalendar` package: its public holidays are days off and its make-up working
days (调休) are working days, whatever the calendar's own weekdays say.

The package covers a fixed range of years (it is updated as the State Council publishes each
year's arrangement); a day outside that range has no official answer, and the SLA clock says so
with a `calendar_out_of_range` warning instead of guessing silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from importlib.metadata import version

import chinese_calendar


class OfficialCalendar(StrEnum):
    CN = "CN"


@dataclass(frozen=True)
class Coverage:
    id: OfficialCalendar
    name: str
    source: str
    years: tuple[int, ...]
    holidays: frozenset[date]
    workdays: frozenset[date]


@cache
def coverage(calendar_id: OfficialCalendar) -> Coverage:
    holidays = frozenset(chinese_calendar.holidays)
    workdays = frozenset(chinese_calendar.workdays)
    first, last = min(holidays).year, max(holidays).year
    return Coverage(
        id=calendar_id,
        name="China: official public holidays and make-up working days (调休)",
        source=f"chinesecalendar {version('chinesecalendar')}",
        years=tuple(range(first, last + 1)),
        holidays=holidays,
        workdays=workdays,
    )


def is_working_day(calendar_id: OfficialCalendar, day: date) -> bool | None:
    """False on an official day off, True on a make-up working day, None on any other day (an
    ordinary day, for which the calendar's weekdays decide) and on a day of a year not covered."""
    data = coverage(calendar_id)
    if day in data.holidays:
        return False
    if day in data.workdays:
        return True
    return None


def covers(calendar_id: OfficialCalendar, day: date) -> bool:
    return day.year in coverage(calendar_id).years
