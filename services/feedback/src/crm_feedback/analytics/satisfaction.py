"""Satisfaction over time, per customer and per channel (NPS, CSAT, satisfaction index)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crm_feedback.analytics import metrics
from crm_feedback.analytics import repository as analytics_repo
from crm_feedback.analytics.metrics import Interval
from crm_feedback.analytics.repository import ResponseRow, TotalsRow
from crm_feedback.db import Session


def summarise(rows: Sequence[ResponseRow]) -> dict[str, Any]:
    return {
        "responses": len(rows),
        "nps": metrics.nps([r.nps_score for r in rows if r.nps_score is not None]),
        "csat": metrics.csat([r.csat_score for r in rows if r.csat_score is not None]),
        "satisfaction_index": metrics.satisfaction_index(
            [r.satisfaction_index for r in rows if r.satisfaction_index is not None]
        ),
    }


def summary_from_totals(totals: TotalsRow | None) -> dict[str, Any]:
    """The same shape as `summarise`, from the sums `score_totals` returns."""
    if totals is None:
        return summarise([])
    n_nps, n_csat, n_index = totals.nps_n, totals.csat_n, totals.index_n
    promoters, detractors = int(totals.promoters or 0), int(totals.detractors or 0)
    satisfied = int(totals.satisfied or 0)
    return {
        "responses": int(totals.responses),
        "nps": {
            "score": round(100 * (promoters - detractors) / n_nps, 2) if n_nps else None,
            "promoters": promoters,
            "passives": n_nps - promoters - detractors,
            "detractors": detractors,
            "n": n_nps,
        },
        "csat": {"score": round(100 * satisfied / n_csat, 2) if n_csat else None, "satisfied": satisfied, "n": n_csat},
        "satisfaction_index": {
            "index": round(float(totals.index_sum) / n_index, 4) if n_index else None,
            "dissatisfied": int(totals.index_low or 0),
            "n": n_index,
        },
    }


def response_rates(counts: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    return [
        {"channel": channel, "invited": invited, "responded": done, "rate": metrics.rate(done, invited)}
        for channel, (invited, done) in sorted(counts.items())
    ]


async def trend(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    interval: Interval,
    survey_id: uuid.UUID | None,
    kind: str | None,
) -> dict[str, Any]:
    windows = metrics.buckets(start, end, interval)
    bounds = [lower for lower, _ in windows] + [windows[-1][1]]
    filters: dict[str, Any] = {"start": start, "end": end, "survey_id": survey_id, "kind": kind}
    per_bucket = await analytics_repo.score_totals(session, bounds=bounds, **filters)
    overall = (await analytics_repo.score_totals(session, **filters)).get(0)
    buckets = [
        {"start": lower, "end": upper, **summary_from_totals(per_bucket.get(i))}
        for i, (lower, upper) in enumerate(windows)
    ]
    counts = await analytics_repo.invitation_counts(session, start=start, end=end, survey_id=survey_id)
    return {
        "from": start,
        "to": end,
        "interval": interval,
        "survey_id": survey_id,
        "kind": kind,
        "overall": summary_from_totals(overall),
        "buckets": buckets,
        "response_rate_by_channel": response_rates(counts),
    }


async def for_customer(session: Session, *, customer_id: uuid.UUID) -> dict[str, Any]:
    rows = await analytics_repo.responses(session, customer_id=customer_id)
    latest = rows[-1] if rows else None
    counts = await analytics_repo.invitation_counts(session, customer_id=customer_id)
    return {
        "customer_id": customer_id,
        **summarise(rows),
        "response_rate_by_channel": response_rates(counts),
        "latest": None
        if latest is None
        else {
            "response_id": latest.id,
            "survey_id": latest.survey_id,
            "channel": latest.channel,
            "responded_at": latest.responded_at,
            "scores": {
                "nps": latest.nps_score,
                "csat": latest.csat_score,
                "satisfaction_index": latest.satisfaction_index,
            },
        },
    }
