"""The per-owner aggregates of the manager analytics, each one grouped query over scoring's own data:
the customer read model (owners), order facts (revenue, activity), stored scores (care status) and
retention actions. Owners are their customers' current `owner_id`: scoring keeps no owner history."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from crm_scoring.db import Session
from crm_scoring.readmodel.models import CustomerRef, OrderFact
from crm_scoring.readmodel.repository import counted_purchase
from crm_scoring.retention.models import CLOSED, RetentionAction
from crm_scoring.scores.models import customer_score

CustomerScore = customer_score.c


def _live(owners: Collection[uuid.UUID] | None) -> ColumnElement[bool]:
    """A live customer that has an owner (among `owners` unless None)."""
    clauses = [CustomerRef.deleted.is_(False), CustomerRef.merged_into.is_(None), CustomerRef.owner_id.is_not(None)]
    if owners is not None:
        clauses.append(CustomerRef.owner_id.in_(list(owners)))
    return and_(*clauses)


async def book_sizes(session: Session, *, end: datetime, owners: Collection[uuid.UUID] | None) -> dict[uuid.UUID, int]:
    """Live customers per owner, created before `end` (a customer with no creation date counts)."""
    stmt = (
        select(CustomerRef.owner_id, func.count())
        .where(_live(owners), or_(CustomerRef.created_at.is_(None), CustomerRef.created_at < end))
        .group_by(CustomerRef.owner_id)
    )
    return {owner: int(n) for owner, n in await session.execute(stmt) if owner is not None}


async def revenues(
    session: Session, *, start: datetime, end: datetime, owners: Collection[uuid.UUID] | None
) -> dict[uuid.UUID, dict[str, Decimal]]:
    """Net amount (amount less its live refunds) of the purchases in [start, end), per owner and
    currency."""
    stmt = (
        select(CustomerRef.owner_id, OrderFact.currency, func.sum(OrderFact.net_amount))
        .join(CustomerRef, CustomerRef.id == OrderFact.customer_id)
        .where(
            _live(owners),
            OrderFact.refund_of.is_(None),
            OrderFact.deleted.is_(False),
            OrderFact.occurred_at >= start,
            OrderFact.occurred_at < end,
        )
        .group_by(CustomerRef.owner_id, OrderFact.currency)
    )
    found: dict[uuid.UUID, dict[str, Decimal]] = {}
    for owner, currency, total in await session.execute(stmt):
        if owner is not None:
            found.setdefault(owner, {})[currency] = Decimal(total or 0)
    return found


async def last_purchases(
    session: Session, *, earliest: datetime, start: datetime, end: datetime, owners: Collection[uuid.UUID] | None
) -> list[tuple[uuid.UUID, Any, Any]]:
    """(owner, last purchase up to `start`, last purchase up to `end`) per live owned customer who
    bought in (earliest, end]: the inputs of the retention formula."""
    stmt = (
        select(
            CustomerRef.owner_id,
            func.max(case((OrderFact.occurred_at <= start, OrderFact.occurred_at))),
            func.max(OrderFact.occurred_at),
        )
        .join(CustomerRef, CustomerRef.id == OrderFact.customer_id)
        .where(_live(owners), counted_purchase(), OrderFact.occurred_at > earliest, OrderFact.occurred_at <= end)
        .group_by(OrderFact.customer_id, CustomerRef.owner_id)
    )
    return [(owner, by_start, by_end) for owner, by_start, by_end in await session.execute(stmt)]


async def care_counts(session: Session, *, owners: Collection[uuid.UUID] | None) -> dict[uuid.UUID, tuple[int, int]]:
    """(key customers, of them on track) per owner, by the care status of their latest scoring."""
    stmt = (
        select(
            CustomerRef.owner_id,
            func.count(),
            func.sum(case((CustomerScore.care_status == "on_track", 1), else_=0)),
        )
        .join(CustomerRef, CustomerRef.id == CustomerScore.customer_id)
        .where(_live(owners), CustomerScore.care_status.is_not(None))
        .group_by(CustomerRef.owner_id)
    )
    return {owner: (int(n), int(on_track or 0)) for owner, n, on_track in await session.execute(stmt)}


async def action_counts(
    session: Session, *, start: datetime, end: datetime, owners: Collection[uuid.UUID] | None
) -> dict[uuid.UUID, tuple[int, int, int]]:
    """(opened, closed, closed won_back) retention actions in [start, end), per owner of the customer."""
    opened = and_(RetentionAction.created_at >= start, RetentionAction.created_at < end)
    closed = and_(RetentionAction.status == CLOSED, RetentionAction.closed_at >= start, RetentionAction.closed_at < end)
    stmt = (
        select(
            CustomerRef.owner_id,
            func.sum(case((opened, 1), else_=0)),
            func.sum(case((closed, 1), else_=0)),
            func.sum(case((and_(closed, RetentionAction.outcome == "won_back"), 1), else_=0)),
        )
        .join(CustomerRef, CustomerRef.id == RetentionAction.customer_id)
        .where(_live(owners), or_(opened, closed))
        .group_by(CustomerRef.owner_id)
    )
    return {owner: (int(o or 0), int(c or 0), int(w or 0)) for owner, o, c, w in await session.execute(stmt)}
