"""Every query on the points ledger and on concessions."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import Page, paginate
from crm_customer.loyalty.models import Concession, PointsEntry


async def balance(session: AsyncSession, customer_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(PointsEntry.customer_id == customer_id)
    )
    return int(total or 0)


async def ledger_page(
    session: AsyncSession, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[PointsEntry]:
    stmt = select(PointsEntry).where(PointsEntry.customer_id == customer_id)
    order = [(PointsEntry.created_at, True), (PointsEntry.id, True)]
    return await paginate(session, stmt, order, "-created_at", limit, cursor)


async def concessions_page(
    session: AsyncSession, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[Concession]:
    stmt = select(Concession).where(Concession.customer_id == customer_id)
    order = [(Concession.granted_at, True), (Concession.id, True)]
    return await paginate(session, stmt, order, "-granted_at", limit, cursor)
