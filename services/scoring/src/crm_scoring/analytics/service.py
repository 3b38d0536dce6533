"""Aggregates: retention over a period, segments, the ABC Pareto curve, churn and its reasons."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.errors import Unprocessable
from crm_scoring.models import abc, churn, retention
from crm_scoring.readmodel.models import CustomerRef, OrderFact
from crm_scoring.scores.models import CustomerScore
from crm_scoring.settings import service as settings_service

DAY = 86400.0


def _check_period(start: datetime, end: datetime) -> None:
    if start >= end:
        raise Unprocessable(
            "from must be before to", errors=[{"field": "from", "code": "invalid_period", "message": "from ≥ to"}]
        )


async def _last_purchases(
    session: AsyncSession, start: datetime, end: datetime, window_days: int
) -> tuple[list[uuid.UUID], np.ndarray, np.ndarray]:
    earliest = start - timedelta(days=window_days)
    stmt = (
        select(
            OrderFact.customer_id,
            func.max(case((OrderFact.occurred_at <= start, OrderFact.occurred_at))),
            func.max(OrderFact.occurred_at),
        )
        .join(CustomerRef, CustomerRef.id == OrderFact.customer_id)
        .where(
            OrderFact.refund_of.is_(None),
            OrderFact.net_amount > 0,
            OrderFact.occurred_at > earliest,
            OrderFact.occurred_at <= end,
            CustomerRef.deleted.is_(False),
            CustomerRef.merged_into.is_(None),
        )
        .group_by(OrderFact.customer_id)
    )
    rows = (await session.execute(stmt)).all()

    def seconds(value: Any) -> float:
        if value is None:
            return np.nan
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment.timestamp() if moment.tzinfo else moment.replace(tzinfo=start.tzinfo).timestamp()

    by_start = np.array([seconds(r[1]) for r in rows], dtype=np.float64)
    by_end = np.array([seconds(r[2]) for r in rows], dtype=np.float64)
    return [r[0] for r in rows], by_start, by_end


async def retention_between(session: AsyncSession, start: datetime, end: datetime) -> dict[str, Any]:
    _check_period(start, end)
    window = (await settings_service.current(session)).activity_window_days
    _, by_start, by_end = await _last_purchases(session, start, end, window)
    result = retention.retention(by_start, by_end, start.timestamp(), end.timestamp(), window * DAY)
    return {
        "from": start,
        "to": end,
        "activity_window_days": window,
        "definition": f"a customer at a date has purchased in the {window} days before it",
        **result.__dict__,
    }


async def churn_between(session: AsyncSession, start: datetime, end: datetime) -> dict[str, Any]:
    _check_period(start, end)
    window = (await settings_service.current(session)).activity_window_days
    ids, by_start, by_end = await _last_purchases(session, start, end, window)
    with np.errstate(invalid="ignore"):
        lost_mask = (by_start > start.timestamp() - window * DAY) & ~(by_end > end.timestamp() - window * DAY)
    lost_ids = [cid for cid, lost in zip(ids, lost_mask, strict=True) if lost]
    reasons: Counter[str] = Counter()
    loss = Decimal(0)
    scored = 0
    for chunk in range(0, len(lost_ids), 2000):
        stmt = select(CustomerScore.churn_reasons, CustomerScore.clv_discounted).where(
            CustomerScore.customer_id.in_(lost_ids[chunk : chunk + 2000])
        )
        for mask, value in await session.execute(stmt):
            scored += 1
            reasons.update(churn.reason_names(mask))
            loss += value or Decimal(0)
    suggestions = dict(
        (
            await session.execute(
                select(CustomerScore.lifecycle_suggestion, func.count()).group_by(CustomerScore.lifecycle_suggestion)
            )
        ).all()
    )
    return {
        "from": start,
        "to": end,
        "lost_count": len(lost_ids),
        "lost_scored": scored,
        "reasons": [{"code": code, "count": n} for code, n in reasons.most_common()],
        "estimated_loss": f"{loss:.2f}",
        "estimated_loss_basis": "sum of the lost customers' discounted CLTV (their expected value had they stayed)",
        "currently_at_risk": suggestions.get("at_risk", 0),
        "currently_lost": suggestions.get("lost", 0),
    }


async def segments(session: AsyncSession) -> dict[str, Any]:
    value = select(
        CustomerScore.value_segment,
        func.count(),
        func.sum(CustomerScore.clv_probabilistic),
        func.avg(CustomerScore.churn_risk),
    ).group_by(CustomerScore.value_segment)
    rfm_counts = select(CustomerScore.rfm_segment, func.count()).group_by(CustomerScore.rfm_segment)
    return {
        "value_segments": [
            {
                "segment": seg,
                "customers": n,
                "clv_probabilistic": f"{Decimal(total or 0):.2f}",
                "average_churn_risk": None if risk is None else float(risk),
            }
            for seg, n, total, risk in (await session.execute(value))
            if seg is not None
        ],
        "rfm_segments": [
            {"segment": seg, "customers": n} for seg, n in (await session.execute(rfm_counts)) if seg is not None
        ],
    }


async def abc_curve(session: AsyncSession) -> dict[str, Any]:
    values = np.array(list(await session.scalars(select(CustomerScore.abc_value))), dtype=np.float64)
    classes = select(CustomerScore.abc_class, func.count(), func.sum(CustomerScore.abc_value)).group_by(
        CustomerScore.abc_class
    )
    total = float(np.clip(values, 0, None).sum()) if values.size else 0.0
    return {
        "customers": int(values.size),
        "classes": [
            {"class": name, "customers": n, "value_share": (float(v or 0) / total) if total > 0 else None}
            for name, n, v in sorted(await session.execute(classes))
        ],
        "points": [{"customer_share": c, "value_share": v} for c, v in abc.pareto_points(values)],
    }
