"""SLA deadline arithmetic: working time under a business-hours calendar, minus pauses.

Pure functions of their arguments (no clock, no database) so that they can be tested exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm_feedback.sla.official import OfficialCalendar, covers, is_working_day

Interval = tuple[datetime, datetime]
FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)
# A calendar must offer some working time within this many days, or it is rejected at use.
MAX_DAYS = 3700


@dataclass(frozen=True)
class Calendar:
    """Working days (0 = Monday), daily opening hours in local time, and holidays; with `official`,
    that official calendar's days off and make-up working days come first."""

    timezone: ZoneInfo
    weekdays: frozenset[int]
    opens: time
    closes: time
    holidays: frozenset[date] = frozenset()
    official: OfficialCalendar | None = None

    def is_working(self, day: date) -> bool:
        if day in self.holidays:
            return False
        special = is_working_day(self.official, day) if self.official else None
        return day.weekday() in self.weekdays if special is None else special

    def years_not_covered(self, start: datetime, end: datetime) -> list[int]:
        """The years of the local days from `start` to `end` that the official calendar does not cover."""
        if self.official is None:
            return []
        first, last = start.astimezone(self.timezone).year, end.astimezone(self.timezone).year
        return [y for y in range(first, last + 1) if not covers(self.official, date(y, 1, 1))]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calendar:
        return cls(
            timezone=ZoneInfo(data["timezone"]),
            weekdays=frozenset(int(d) for d in data["weekdays"]),
            opens=time.fromisoformat(data["opens"]),
            closes=time.fromisoformat(data["closes"]),
            holidays=frozenset(date.fromisoformat(d) for d in data.get("holidays", ())),
            official=OfficialCalendar(data["official"]) if data.get("official") else None,
        )


def _windows(start: datetime, calendar: Calendar | None) -> Iterator[Interval]:
    """The working intervals (UTC) from `start` on, in order."""
    if calendar is None:
        yield start, FAR_FUTURE
        return
    day = start.astimezone(calendar.timezone).date()
    for _ in range(MAX_DAYS):
        if calendar.is_working(day):
            opens = datetime.combine(day, calendar.opens, tzinfo=calendar.timezone).astimezone(UTC)
            closes = datetime.combine(day, calendar.closes, tzinfo=calendar.timezone).astimezone(UTC)
            opens = max(opens, start)
            if closes > opens:
                yield opens, closes
        day += timedelta(days=1)
    raise ValueError("the calendar has no working time in the next ten years")


def _merged(pauses: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in sorted(p for p in pauses if p[1] > p[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _running(start: datetime, calendar: Calendar | None, pauses: Sequence[Interval]) -> Iterator[Interval]:
    """Working intervals with the pauses cut out: the time during which the SLA clock runs."""
    merged = _merged(pauses)
    for a, b in _windows(start, calendar):
        for pa, pb in merged:
            if pb <= a or pa >= b:
                continue
            if pa > a:
                yield a, pa
            a = max(a, pb)
            if a >= b:
                break
        if b > a:
            yield a, b


def add_working_time(
    start: datetime,
    duration: timedelta,
    calendar: Calendar | None = None,
    pauses: Sequence[Interval] = (),
) -> datetime:
    """The instant at which `duration` of running clock time has passed since `start`."""
    remaining = duration
    if remaining <= timedelta(0):
        return start
    for a, b in _running(start, calendar, pauses):
        if b - a >= remaining:
            return a + remaining
        remaining -= b - a
    raise ValueError("no deadline within the calendar's horizon")  # pragma: no cover - FAR_FUTURE


def working_time_between(
    start: datetime, end: datetime, calendar: Calendar | None = None, pauses: Sequence[Interval] = ()
) -> timedelta:
    """Running clock time in [start, end)."""
    total = timedelta(0)
    if end <= start:
        return total
    for a, b in _running(start, calendar, pauses):
        if a >= end:
            break
        total += min(b, end) - a
    return total
