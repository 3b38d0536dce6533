"""Per-customer sufficient statistics, aggregated in SQL: the cost grows with customers, not orders.

Purchases are counted per day: same-day orders make one purchase (the models' unit), their amounts
summed. Refunds are netted into the order they refund (`net_amount`); fully refunded orders are no
purchase at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Date, and_, case, cast, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_scoring.models.fitting import FloatArray
from crm_scoring.readmodel.models import ComplaintFact, CustomerRef, InteractionFact, OrderFact, SurveyResponseFact
from crm_scoring.settings.schemas import ScoringSettings

CLOSED_COMPLAINT = ("resolved", "closed")


@dataclass
class Population:
    as_of: datetime
    ids: list[uuid.UUID]
    columns: dict[str, FloatArray] = field(default_factory=dict)
    last_contact_at: list[datetime | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def _day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(column.op("AT TIME ZONE")(literal_column("'UTC'")), Date)
    return func.date(column)


def _ordinal(value: Any) -> float:
    if value is None:
        return np.nan
    return float(value.toordinal() if isinstance(value, date) else date.fromisoformat(str(value)).toordinal())


def _only(column: Any, ids: Sequence[uuid.UUID] | None) -> list[ColumnElement[bool]]:
    return [] if ids is None else [column.in_(ids)]


async def load(
    session: AsyncSession, *, as_of: datetime, settings: ScoringSettings, ids: Sequence[uuid.UUID] | None = None
) -> Population:
    refs = select(CustomerRef.id).where(
        CustomerRef.deleted.is_(False), CustomerRef.erased.is_(False), CustomerRef.merged_into.is_(None)
    )
    population = Population(as_of=as_of, ids=list(await session.scalars(refs.where(*_only(CustomerRef.id, ids)))))
    index = {cid: i for i, cid in enumerate(population.ids)}
    n = len(index)
    cols = population.columns
    names = ("days", "first_day", "last_day", "total", "first_amount", "profit", "window_orders", "window_spend")
    for name in (*names, "annual_profit", "referrals", "open_complaints", "sla_breaches"):
        cols[name] = np.zeros(n)
    for name in ("first_day", "last_day", "satisfaction", "nps", "csat", "contact_day", "follow_up"):
        cols[name] = np.full(n, np.nan)
    population.last_contact_at = [None] * n
    if n == 0:
        return population

    window_start = as_of - timedelta(days=settings.rfm_window_days)
    year_start = as_of - timedelta(days=365)
    margin = func.coalesce(OrderFact.margin, settings.default_margin)
    day = _day(session, OrderFact.occurred_at)
    per_day = (
        select(
            OrderFact.customer_id.label("cid"),
            day.label("day"),
            func.sum(OrderFact.net_amount).label("amount"),
            func.sum(OrderFact.net_amount * margin).label("profit"),
            func.sum(case((OrderFact.occurred_at > window_start, 1), else_=0)).label("w_orders"),
            func.sum(case((OrderFact.occurred_at > window_start, OrderFact.net_amount), else_=0)).label("w_spend"),
            func.sum(case((OrderFact.occurred_at > year_start, OrderFact.net_amount * margin), else_=0)).label(
                "y_profit"
            ),
        )
        .where(
            OrderFact.refund_of.is_(None),
            OrderFact.net_amount > 0,
            OrderFact.occurred_at <= as_of,
            *_only(OrderFact.customer_id, ids),
        )
        .group_by(OrderFact.customer_id, day)
        .subquery()
    )
    ranked = select(per_day, func.min(per_day.c.day).over(partition_by=per_day.c.cid).label("first")).subquery()
    per_customer = select(
        ranked.c.cid,
        func.count(),
        func.min(ranked.c.day),
        func.max(ranked.c.day),
        func.sum(ranked.c.amount),
        func.sum(case((ranked.c.day == ranked.c.first, ranked.c.amount), else_=0)),
        func.sum(ranked.c.profit),
        func.sum(ranked.c.w_orders),
        func.sum(ranked.c.w_spend),
        func.sum(ranked.c.y_profit),
    ).group_by(ranked.c.cid)
    for row in await session.execute(per_customer):
        i = index.get(row[0])
        if i is None:
            continue
        cols["days"][i] = row[1]
        cols["first_day"][i], cols["last_day"][i] = _ordinal(row[2]), _ordinal(row[3])
        for name, value in zip((*names[3:], "annual_profit"), row[4:], strict=True):
            cols[name][i] = float(value or 0)

    await _load_relations(session, population, index, settings, ids)
    return population


async def _load_relations(
    session: AsyncSession,
    population: Population,
    index: dict[uuid.UUID, int],
    settings: ScoringSettings,
    ids: Sequence[uuid.UUID] | None,
) -> None:
    cols, as_of = population.columns, population.as_of
    lookback = as_of - timedelta(days=settings.feedback_lookback_days)
    referrals = (
        select(CustomerRef.referred_by, func.count())
        .where(CustomerRef.referred_by.is_not(None), CustomerRef.deleted.is_(False))
        .where(*_only(CustomerRef.referred_by, ids))
        .group_by(CustomerRef.referred_by)
    )
    for cid, count in await session.execute(referrals):
        if cid in index:
            cols["referrals"][index[cid]] = count
    complaints = (
        select(
            ComplaintFact.customer_id,
            func.sum(case((ComplaintFact.status.not_in(CLOSED_COMPLAINT), 1), else_=0)),
            func.sum(
                case((and_(ComplaintFact.sla_breached.is_(True), ComplaintFact.opened_at > lookback), 1), else_=0)
            ),
        )
        .where(or_(ComplaintFact.opened_at.is_(None), ComplaintFact.opened_at <= as_of))
        .where(*_only(ComplaintFact.customer_id, ids))
        .group_by(ComplaintFact.customer_id)
    )
    for cid, open_count, breaches in await session.execute(complaints):
        if cid in index:
            cols["open_complaints"][index[cid]] = open_count or 0
            cols["sla_breaches"][index[cid]] = breaches or 0
    responses = (
        select(
            SurveyResponseFact.customer_id,
            SurveyResponseFact.nps,
            SurveyResponseFact.satisfaction_index,
            SurveyResponseFact.csat,
        )
        .where(SurveyResponseFact.responded_at > lookback, SurveyResponseFact.responded_at <= as_of)
        .where(*_only(SurveyResponseFact.customer_id, ids))
        .order_by(SurveyResponseFact.responded_at)
    )
    for cid, nps, satisfaction, csat in await session.execute(responses):
        if cid in index:  # later answers overwrite earlier ones: the latest measure counts
            if nps is not None:
                cols["nps"][index[cid]] = nps
            if satisfaction is not None:
                cols["satisfaction"][index[cid]] = satisfaction
            if csat is not None:
                cols["csat"][index[cid]] = csat
    contacts = (
        select(
            InteractionFact.customer_id,
            func.max(InteractionFact.occurred_at),
            func.max(InteractionFact.next_follow_up_date),
        )
        .where(InteractionFact.occurred_at <= as_of, *_only(InteractionFact.customer_id, ids))
        .group_by(InteractionFact.customer_id)
    )
    today = as_of.date().toordinal()
    for cid, last_at, follow_up in await session.execute(contacts):
        if cid in index:
            i = index[cid]
            last = last_at if isinstance(last_at, datetime) else datetime.fromisoformat(str(last_at))
            population.last_contact_at[i] = last
            cols["contact_day"][i] = float(last.date().toordinal())
            if follow_up is not None and _ordinal(follow_up) >= cols["contact_day"][i]:
                cols["follow_up"][i] = _ordinal(follow_up) - today
