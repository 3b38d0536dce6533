"""Instants and dates as clients write them, and the one place their bounds are kept.

Every date a client sends is bounded, so that no stored value can break a later computation (a year-1
order once stopped scoring for everyone): nothing before 1900-01-01; an occurrence (an order, an
interaction, a service visit) no later than now plus `CRM_OCCURRENCE_SKEW_SECONDS` (default 300, for
clocks that differ a little); a birth date not after today; any other date not after 2199-12-31.

Partners' logs often carry only the day of a purchase. A plain date (`2025-01-01`) is read as
midnight of that day in the business's time zone, `CRM_BUSINESS_TIMEZONE` (default
`Asia/Shanghai`), so that it falls on the day the business means in every report.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, WithJsonSchema

DEFAULT_TIMEZONE = "Asia/Shanghai"
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
DEFAULT_OCCURRENCE_SKEW_SECONDS = 300
_PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@lru_cache
def business_timezone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("CRM_BUSINESS_TIMEZONE") or DEFAULT_TIMEZONE)


@lru_cache
def occurrence_skew() -> timedelta:
    """How far past now an occurrence may lie: clocks differ a little between a partner and us."""
    raw = os.environ.get("CRM_OCCURRENCE_SKEW_SECONDS") or str(DEFAULT_OCCURRENCE_SKEW_SECONDS)
    return timedelta(seconds=int(raw))


def business_date(instant: datetime) -> date:
    """The calendar day an instant falls on in the business time zone."""
    return instant.astimezone(business_timezone()).date()


def sqlite_business_date(stored: str | None) -> str | None:
    """`business_date` for SQLite, which stores UTC instants as naive text and knows no time zones;
    registered on every SQLite connection as the SQL function `business_date`."""
    if stored is None:
        return None
    return business_date(datetime.fromisoformat(stored).replace(tzinfo=UTC)).isoformat()


def start_of_day(day: date) -> datetime:
    """Midnight of `day` in the business time zone, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=business_timezone()).astimezone(UTC)


def _plain_date_to_instant(value: Any) -> Any:
    if isinstance(value, str) and _PLAIN_DATE.match(value.strip()):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return value  # not a calendar day: the date-time parser says what is wrong
    if isinstance(value, date) and not isinstance(value, datetime):
        _bounded_date(value)  # before the conversion, which overflows at the edges of the calendar
        return start_of_day(value)
    return value


_EARLIEST_INSTANT = datetime.combine(EARLIEST, time(0), tzinfo=UTC)
_LATEST_INSTANT = datetime.combine(LATEST, time.max, tzinfo=UTC)


def _bounded_instant(value: datetime) -> datetime:
    # Compared in UTC before converting, so that an instant at the very edge of the calendar (year 1
    # or 9999 with an offset) is refused instead of overflowing.
    if value < _EARLIEST_INSTANT:
        raise ValueError(f"must not be before {EARLIEST.isoformat()}")
    if value > _LATEST_INSTANT:
        raise ValueError(f"must not be after {LATEST.isoformat()}")
    return value.astimezone(UTC)


def _not_future_instant(value: datetime) -> datetime:
    if value > datetime.now(UTC) + occurrence_skew():
        raise ValueError("must not be in the future")
    return value


def _bounded_date(value: date) -> date:
    if value < EARLIEST or value > LATEST:
        raise ValueError(f"must be a date between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    return value


def _past_date(value: date) -> date:
    if value < EARLIEST or value > datetime.now(UTC).date():
        raise ValueError(f"must be a date between {EARLIEST.isoformat()} and today")
    return value


def _not_future_date(value: date) -> date:
    if value < EARLIEST:
        raise ValueError(f"must not be before {EARLIEST.isoformat()}")
    if start_of_day(value) > datetime.now(UTC) + occurrence_skew():
        raise ValueError("must not be in the future")
    return value


_INSTANT_SCHEMA = WithJsonSchema(
    {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}],
        "description": "a date-time with its offset, or a plain date (midnight in the business time zone)",
    }
)

# Any instant a client sends: 1900-01-01 to 2199-12-31, with its offset or as a plain date, kept in UTC.
Instant = Annotated[
    AwareDatetime, BeforeValidator(_plain_date_to_instant), AfterValidator(_bounded_instant), _INSTANT_SCHEMA
]
# When something happened (an order, an interaction): not after now plus the skew.
OccurredAt = Annotated[Instant, AfterValidator(_not_future_instant)]
# Any calendar day a client sends (a follow-up date, a holiday, a filter's bound).
CalendarDate = Annotated[date, AfterValidator(_bounded_date)]
# A day that has passed or is today in UTC (a birth date).
PastDate = Annotated[date, AfterValidator(_past_date)]
# The day something happened (a service visit): its midnight in the business time zone is not after now plus the skew.
OccurredOn = Annotated[date, AfterValidator(_not_future_date)]
