"""Complaint handling measures: open backlog by age, breach rates, response and resolution times."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_feedback.analytics import metrics
from crm_feedback.analytics import repository as analytics_repo
from crm_feedback.analytics.metrics import Interval
from crm_feedback.analytics.repository import ComplaintRow, OpenComplaintRow
from crm_feedback.common.enums import Severity
from crm_feedback.db import Session

AGE_BANDS: list[tuple[str, timedelta]] = [
    ("under_1d", timedelta(days=1)),
    ("1_to_3d", timedelta(days=3)),
    ("3_to_7d", timedelta(days=7)),
    ("over_7d", timedelta.max),
]


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def _first_response_breached(r: ComplaintRow, now: datetime) -> bool | None:
    """True/False once the target is decided (met, missed or overdue); None while it still runs."""
    due = r.first_response_due_at
    if due is None:
        return None
    if r.first_responded_at is not None:
        return bool(r.first_responded_at > due)
    return True if r.first_response_breached_at is not None or now > due else None


def _resolution_breached(r: ComplaintRow, now: datetime) -> bool | None:
    due = r.resolution_due_at
    if due is None:
        return None
    if r.resolution_breached_at is not None:
        return True
    if r.resolved_at is not None:
        return bool(r.resolved_at > due)
    # While waiting on the customer the clock is stopped: what counts is when it stopped.
    return True if (r.paused_since or now) > due else None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the measures need of one complaint, derived once from its row."""

    category: str
    channel: str
    severity: str
    opened_at: datetime
    resolved: bool
    first_breached: bool | None
    resolution_breached: bool | None
    first_response_minutes: float | None
    resolution_minutes: float | None


def facts(r: ComplaintRow, now: datetime) -> Facts:
    return Facts(
        category=r.category,
        channel=r.channel,
        severity=r.severity,
        opened_at=r.opened_at,
        resolved=r.resolved_at is not None,
        first_breached=_first_response_breached(r, now),
        resolution_breached=_resolution_breached(r, now),
        first_response_minutes=_minutes(r.opened_at, r.first_responded_at) if r.first_responded_at else None,
        resolution_minutes=_minutes(r.opened_at, r.resolved_at) if r.resolved_at else None,
    )


def _rate(flags: list[bool | None]) -> float | None:
    decided = [f for f in flags if f is not None]
    return metrics.rate(sum(decided), len(decided))


def measures(items: Sequence[Facts]) -> dict[str, Any]:
    first = [f.first_breached for f in items]
    reso = [f.resolution_breached for f in items]
    return {
        "opened": len(items),
        "resolved": sum(1 for f in items if f.resolved),
        "breach_rate": {"first_response": _rate(first), "resolution": _rate(reso), "overall": _rate(first + reso)},
        "time_to_first_response": metrics.durations(
            [f.first_response_minutes for f in items if f.first_response_minutes is not None]
        ),
        "time_to_resolution": metrics.durations(
            [f.resolution_minutes for f in items if f.resolution_minutes is not None]
        ),
    }


def _grouped(items: Sequence[Facts], key: Callable[[Facts], str]) -> list[dict[str, Any]]:
    groups: dict[str, list[Facts]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return [{"key": name, **measures(group)} for name, group in sorted(groups.items())]


def open_by_age(rows: Sequence[OpenComplaintRow], now: datetime) -> dict[str, dict[str, int]]:
    table = {s.value: {band: 0 for band, _ in AGE_BANDS} for s in Severity}
    for severity, opened_at in rows:
        age = now - opened_at
        band = next(name for name, limit in AGE_BANDS if age < limit)
        table[severity][band] += 1
    return table


async def report(
    session: Session, *, start: datetime, end: datetime, interval: Interval, now: datetime
) -> dict[str, Any]:
    items = [facts(r, now) for r in await analytics_repo.complaints(session, start=start, end=end)]
    windows = metrics.buckets(start, end, interval)
    starts = [lower for lower, _ in windows]
    grouped: list[list[Facts]] = [[] for _ in windows]
    for item in items:  # one pass: each complaint goes to the window it was opened in
        grouped[bisect_right(starts, item.opened_at) - 1].append(item)
    return {
        "from": start,
        "to": end,
        "interval": interval,
        "as_of": now,
        "open_by_age_and_severity": open_by_age(await analytics_repo.open_complaints(session), now),
        "overall": measures(items),
        "by_category": _grouped(items, lambda f: f.category),
        "by_channel": _grouped(items, lambda f: f.channel),
        "by_severity": _grouped(items, lambda f: f.severity),
        "over_time": [
            {"start": lower, "end": upper, **measures(inside)}
            for (lower, upper), inside in zip(windows, grouped, strict=True)
        ],
    }
