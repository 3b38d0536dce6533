"""Every query on the points ledger, concessions, membership tiers and care budgets."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import Page, paginate
from crm_customer.db import customer_records_page
from crm_customer.loyalty.models import CareBudget, Concession, ManualTier, PointsEntry, Tier


async def balance(session: AsyncSession, customer_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(PointsEntry.customer_id == customer_id)
    )
    return int(total or 0)


async def ledger_page(
    session: AsyncSession, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[PointsEntry]:
    return await customer_records_page(session, PointsEntry, PointsEntry.created_at, customer_id, limit, cursor)


async def concessions_page(
    session: AsyncSession, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[Concession]:
    return await customer_records_page(session, Concession, Concession.granted_at, customer_id, limit, cursor)


async def tiers(session: AsyncSession) -> list[Tier]:
    """Every tier, lowest threshold first (a handful: a business has few tiers)."""
    return list((await session.scalars(select(Tier).order_by(Tier.threshold))).all())


async def tiers_page(session: AsyncSession, limit: int, cursor: str | None) -> Page[Tier]:
    order = [(Tier.threshold, False), (Tier.id, False)]
    return await paginate(session, select(Tier), order, "threshold", limit, cursor)


async def get_tier(session: AsyncSession, tier_id: uuid.UUID) -> Tier | None:
    return await session.get(Tier, tier_id)


async def tier_named(session: AsyncSession, name: str, other_than: uuid.UUID | None = None) -> Tier | None:
    stmt = select(Tier).where(func.lower(Tier.name) == name.lower())
    if other_than is not None:
        stmt = stmt.where(Tier.id != other_than)
    return (await session.scalars(stmt)).first()


async def tier_at(session: AsyncSession, threshold: int, other_than: uuid.UUID | None = None) -> Tier | None:
    stmt = select(Tier).where(Tier.threshold == threshold)
    if other_than is not None:
        stmt = stmt.where(Tier.id != other_than)
    return (await session.scalars(stmt)).first()


async def manual_tier(session: AsyncSession, customer_id: uuid.UUID) -> ManualTier | None:
    return await session.get(ManualTier, customer_id)


async def manual_holders(session: AsyncSession, tier_id: uuid.UUID) -> int:
    count = await session.scalar(select(func.count()).select_from(ManualTier).where(ManualTier.tier_id == tier_id))
    return int(count or 0)


async def budgets_page(
    session: AsyncSession, period: str | None, care_class: str | None, limit: int, cursor: str | None
) -> Page[CareBudget]:
    stmt = select(CareBudget)
    if period is not None:
        stmt = stmt.where(CareBudget.period == period)
    if care_class is not None:
        stmt = stmt.where(CareBudget.care_class == care_class)
    order = [(CareBudget.period, True), (CareBudget.care_class, False), (CareBudget.id, False)]
    return await paginate(session, stmt, order, "-period", limit, cursor)


async def budget(session: AsyncSession, care_class: str, period: str, *, for_update: bool = False) -> CareBudget | None:
    stmt = select(CareBudget).where(CareBudget.care_class == care_class, CareBudget.period == period)
    if for_update:
        # Grants charged to one budget queue here, so that two cannot both spend what is left.
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def budgets_of(session: AsyncSession, period: str) -> list[CareBudget]:
    return list((await session.scalars(select(CareBudget).where(CareBudget.period == period))).all())


async def spent(session: AsyncSession, care_class: str, period: str, currency: str) -> Decimal:
    total = await session.scalar(
        select(func.coalesce(func.sum(Concession.value), 0, type_=Numeric(18, 2))).where(
            Concession.care_class == care_class, Concession.care_period == period, Concession.currency == currency
        )
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


async def spending(session: AsyncSession, period: str) -> list[Any]:
    """Per budget line and currency: the sum charged, the number of grants, those over the budget."""
    stmt = (
        select(
            Concession.care_class,
            Concession.currency,
            func.coalesce(func.sum(Concession.value), 0, type_=Numeric(18, 2)).label("spent"),
            func.count().label("grants"),
            func.count(Concession.overspend_approved_by).label("overspend_grants"),
        )
        .where(Concession.care_period == period, Concession.care_class.is_not(None))
        .group_by(Concession.care_class, Concession.currency)
    )
    return list((await session.execute(stmt)).all())


async def erase_text(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """Erasure: the free text written about the customer in their points, concessions and hand-set
    tier goes; the amounts, kinds and dates stay for the aggregates."""
    await session.execute(update(PointsEntry).where(PointsEntry.customer_id == customer_id).values(reason=None))
    await session.execute(update(Concession).where(Concession.customer_id == customer_id).values(reason_note=None))
    await session.execute(update(ManualTier).where(ManualTier.customer_id == customer_id).values(reason=None))
