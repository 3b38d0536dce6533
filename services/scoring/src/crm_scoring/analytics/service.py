"""Aggregates: retention over a period, segments, the ABC Pareto curve, churn and its reasons."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from crm_chassis.errors import Unprocessable
from crm_chassis.pagination import decode_cursor, encode_cursor
from crm_scoring.analytics import repository as manager_repo
from crm_scoring.db import Session
from crm_scoring.models import abc, churn, retention, value
from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.reasons import repository as reason_repo
from crm_scoring.retention import repository as action_repo
from crm_scoring.runs import repository as run_repo
from crm_scoring.scores import cards
from crm_scoring.scores import repository as score_repo
from crm_scoring.settings import service as settings_service

DAY = 86400.0


def _check_period(start: datetime, end: datetime) -> None:
    if start >= end:
        raise Unprocessable(
            "from must be before to", errors=[{"field": "from", "code": "invalid_period", "message": "from ≥ to"}]
        )


async def _last_purchases(
    session: Session, start: datetime, end: datetime, window_days: int
) -> tuple[list[uuid.UUID], np.ndarray, np.ndarray]:
    earliest = start - timedelta(days=window_days)
    rows = await fact_repo.last_purchases(session, earliest=earliest, start=start, end=end)
    by_start = np.array([_seconds(r[1], start) for r in rows], dtype=np.float64)
    by_end = np.array([_seconds(r[2], start) for r in rows], dtype=np.float64)
    return [r[0] for r in rows], by_start, by_end


def _seconds(value: Any, like: datetime) -> float:
    """A stored instant (SQLite may give it back as text, without its zone) in epoch seconds; NaN: none."""
    if value is None:
        return np.nan
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.timestamp() if moment.tzinfo else moment.replace(tzinfo=like.tzinfo).timestamp()


async def retention_between(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
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


async def churn_between(
    session: Session, start: datetime, end: datetime, *, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """The customers lost in the period (paged, in id order), each with their estimated loss and its
    basis, reasons and segment; the totals over all of them."""
    _check_period(start, end)
    current = await settings_service.current(session)
    window = current.activity_window_days
    ids, by_start, by_end = await _last_purchases(session, start, end, window)
    with np.errstate(invalid="ignore"):
        lost_mask = (by_start > start.timestamp() - window * DAY) & ~(by_end > end.timestamp() - window * DAY)
    lost_ids = [cid for cid, lost in zip(ids, lost_mask, strict=True) if lost]
    live = await run_repo.latest_model(session)
    ctx = cards.Context.of(live.model if live else None, current)
    reasons: Counter[str] = Counter()
    bases: Counter[str] = Counter()
    total = Decimal(0)
    items = []
    rows = await score_repo.churn_of(session, lost_ids)
    for row in rows:
        names = churn.reason_names(row["churn_reasons"])
        reasons.update(names)
        loss, basis = value.estimated_loss(
            True, row["clv_before_loss"], row["yearly_profit"], ctx.population_retention, ctx.settings.cltv_years
        )
        amount = None if loss is None else Decimal(repr(round(loss, 2))).quantize(Decimal("0.01"))
        total += amount or Decimal(0)
        if basis:
            bases[basis] += 1
        items.append(
            {
                "customer_id": row["customer_id"],
                "display_name": row["display_name"],
                "estimated_loss": None if amount is None else f"{amount:.2f}",
                "loss_basis": basis,
                "reasons": names,
                "value_segment": row["value_segment"],
                "lifecycle_suggestion": row["lifecycle_suggestion"],
            }
        )
    if cursor:
        (after,) = decode_cursor(cursor, "churn", 1)
        items = [item for item in items if str(item["customer_id"]) > str(after)]
    page, more = items[:limit], len(items) > limit
    suggestions = await score_repo.lifecycle_counts(session)
    return {
        "from": start,
        "to": end,
        "lost_count": len(lost_ids),
        "lost_scored": len(rows),
        "reasons": [{"code": code, "count": n} for code, n in reasons.most_common()],
        "estimated_loss": f"{total:.2f}",
        "estimated_loss_basis": "per lost customer: the probabilistic CLV at the last scoring that did not find them "
        "lost (clv_before_loss), else their average yearly profit × the years a customer stays within the CLTV "
        "horizon at the population's retention rate (yearly_profit_x_remaining_years)",
        "loss_bases": dict(bases),
        "items": page,
        "next_cursor": encode_cursor("churn", [str(page[-1]["customer_id"])]) if more and page else None,
        "currently_at_risk": suggestions.get("at_risk", 0),
        "currently_lost": suggestions.get("lost", 0),
        **await _recorded_reasons(session, start, end),
        "win_back": await _win_back(session, start, end),
    }


async def _recorded_reasons(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    by_code: dict[str, Counter[str]] = {}
    sources: Counter[str] = Counter({"manual": 0, "exit_survey": 0})
    for code, source, n in await reason_repo.counts(session, start=start, end=end):
        by_code.setdefault(code, Counter())[source] += n
        sources[source] += n
    ranked = sorted(by_code.items(), key=lambda item: (-item[1].total(), item[0]))
    return {
        "recorded_reasons": [
            {"code": code, "count": n.total(), "manual": n["manual"], "exit_survey": n["exit_survey"]}
            for code, n in ranked
        ],
        "reason_sources": dict(sources),
    }


def _rates(counts: dict[Any, list[int]], name: str) -> list[dict[str, Any]]:
    return [
        {name: key, "closed": closed, "won_back": won, "rate": won / closed if closed else None}
        for key, (closed, won) in sorted(counts.items(), key=lambda item: str(item[0]))
    ]


async def _win_back(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """Win-back rate = actions closed won_back / actions closed, per value segment and countermeasure."""
    by_segment: dict[Any, list[int]] = {}
    by_measure: dict[Any, list[int]] = {}
    for segment, measure, outcome, n in await action_repo.closed_counts(session, start=start, end=end):
        for counts, key in ((by_segment, segment), (by_measure, measure)):
            tally = counts.setdefault(key, [0, 0])
            tally[0] += n
            tally[1] += n if outcome == "won_back" else 0
    return {
        "by_value_segment": _rates(by_segment, "value_segment"),
        "by_countermeasure": _rates(by_measure, "countermeasure"),
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def managers_between(
    session: Session, start: datetime, end: datetime, *, owners: frozenset[uuid.UUID] | None
) -> dict[str, Any]:
    """Per account manager (a customer's current owner; `owners` None: every one), over the period:
    book size at its end, net revenue, care of key customers, retention of the book by the DOMAIN.md
    formula (`models.retention`) and retention actions opened, closed and won back."""
    _check_period(start, end)
    window = (await settings_service.current(session)).activity_window_days
    books = await manager_repo.book_sizes(session, end=end, owners=owners)
    revenue = await manager_repo.revenues(session, start=start, end=end, owners=owners)
    care = await manager_repo.care_counts(session, owners=owners)
    actions = await manager_repo.action_counts(session, start=start, end=end, owners=owners)
    purchases: dict[uuid.UUID, tuple[list[float], list[float]]] = {}
    earliest = start - timedelta(days=window)
    for owner, by_start, by_end in await manager_repo.last_purchases(
        session, earliest=earliest, start=start, end=end, owners=owners
    ):
        starts, ends = purchases.setdefault(owner, ([], []))
        starts.append(_seconds(by_start, start))
        ends.append(_seconds(by_end, start))
    items = []
    for owner in sorted({*books, *revenue, *care, *actions, *purchases}, key=str):
        starts, ends = purchases.get(owner, ([], []))
        kept = retention.retention(
            np.array(starts, dtype=np.float64),
            np.array(ends, dtype=np.float64),
            start.timestamp(),
            end.timestamp(),
            window * DAY,
        )
        key, on_track = care.get(owner, (0, 0))
        opened, closed, won = actions.get(owner, (0, 0, 0))
        items.append(
            {
                "owner_id": owner,
                "book_size": books.get(owner, 0),
                "revenue": f"{sum(revenue.get(owner, {}).values(), Decimal(0)):.2f}",
                "revenue_by_currency": [
                    {"currency": currency, "amount": f"{amount:.2f}"}
                    for currency, amount in sorted(revenue.get(owner, {}).items())
                ],
                "key_customers": key,
                "care_on_track": on_track,
                "care_on_track_share": _share(on_track, key),
                "retention": kept.__dict__,
                "actions_opened": opened,
                "actions_closed": closed,
                "actions_won_back": won,
                "win_back_rate": _share(won, closed),
            }
        )
    return {"from": start, "to": end, "activity_window_days": window, "items": items}


async def segments(session: Session) -> dict[str, Any]:
    return {
        "value_segments": [
            {
                "segment": seg,
                "customers": n,
                "clv_probabilistic": f"{Decimal(total or 0):.2f}",
                "average_churn_risk": None if risk is None else float(risk),
            }
            for seg, n, total, risk in await score_repo.value_segment_totals(session)
            if seg is not None
        ],
        "rfm_segments": [
            {"segment": seg, "customers": n}
            for seg, n in await score_repo.rfm_segment_counts(session)
            if seg is not None
        ],
    }


async def abc_curve(session: Session) -> dict[str, Any]:
    values = np.array(list(await score_repo.abc_values(session)), dtype=np.float64)
    total = float(np.clip(values, 0, None).sum()) if values.size else 0.0
    return {
        "customers": int(values.size),
        "classes": [
            {"class": name, "customers": n, "value_share": (float(v or 0) / total) if total > 0 else None}
            for name, n, v in sorted(await score_repo.abc_class_totals(session))
        ],
        "points": [{"customer_share": c, "value_share": v} for c, v in abc.pareto_points(values)],
    }
