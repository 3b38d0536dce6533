"""The satisfaction and complaint measures, as pure functions over plain numbers.

NPS: % promoters (9–10) minus % detractors (0–6) of the NPS answers. CSAT: % of answers of 4 or 5
on the 1–5 scale. Satisfaction index: perception / expectation, averaged over the pairs given
(< 1 dissatisfied). Percentiles interpolate linearly between ranks (as NumPy's default does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any, Literal

Interval = Literal["week", "month"]


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 2)


def nps(scores: Sequence[int]) -> dict[str, Any]:
    n = len(scores)
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return {
        "score": _pct(promoters - detractors, n) if n else None,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "n": n,
    }


def csat(values: Sequence[float]) -> dict[str, Any]:
    n = len(values)
    satisfied = sum(1 for v in values if v >= 4)
    return {"score": _pct(satisfied, n) if n else None, "satisfied": satisfied, "n": n}


def satisfaction_index(values: Sequence[float]) -> dict[str, Any]:
    n = len(values)
    return {
        "index": round(fmean(values), 4) if n else None,
        "dissatisfied": sum(1 for v in values if v < 1),
        "n": n,
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def durations(values: Sequence[float]) -> dict[str, Any]:
    """Median and p90 of durations in minutes."""
    median, p90 = percentile(values, 0.5), percentile(values, 0.9)
    return {
        "median_minutes": None if median is None else round(median, 2),
        "p90_minutes": None if p90 is None else round(p90, 2),
        "n": len(values),
    }


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def next_bucket(start: datetime, interval: Interval) -> datetime:
    if interval == "week":
        return start + timedelta(days=7)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def buckets(start: datetime, end: datetime, interval: Interval) -> list[tuple[datetime, datetime]]:
    """Calendar weeks (Monday, UTC) or months covering [start, end)."""
    out = []
    cursor = bucket_start(start, interval)
    while cursor < end:
        following = next_bucket(cursor, interval)
        out.append((cursor, following))
        cursor = following
    return out
