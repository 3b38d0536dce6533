from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.identity import Principal
from crm_chassis.pagination import paginate
from crm_customer import access
from crm_customer.orders.models import Order
from crm_customer.orders.schemas import OrderFilters, OrderKind

ORDER = [(Order.occurred_at, True), (Order.id, True)]  # newest first


async def get(session: AsyncSession, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
    stmt = select(Order).where(Order.id == order_id, Order.deleted_at.is_(None))
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def by_external_ref(session: AsyncSession, source: str, external_ref: str) -> Order | None:
    stmt = select(Order).where(Order.source == source, Order.external_ref == external_ref)
    return (await session.scalars(stmt)).one_or_none()


async def refunded_total(session: AsyncSession, order_id: uuid.UUID) -> Decimal:
    total = await session.scalar(
        select(func.coalesce(func.sum(Order.amount), 0)).where(Order.refund_of == order_id, Order.deleted_at.is_(None))
    )
    return -Decimal(total or 0)


def _filtered(filters: OrderFilters, principal: Principal) -> Select[Any]:
    stmt = select(Order).where(Order.deleted_at.is_(None))
    visible = access.visible_customer_ids(principal)
    if visible is not None:
        stmt = stmt.where(Order.customer_id.in_(visible))
    for name in ("customer_id", "source", "external_ref"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Order, name) == value)
    if filters.kind == OrderKind.purchase:
        stmt = stmt.where(Order.refund_of.is_(None))
    elif filters.kind == OrderKind.refund:
        stmt = stmt.where(Order.refund_of.is_not(None))
    if filters.occurred_after:
        stmt = stmt.where(Order.occurred_at >= filters.occurred_after)
    if filters.occurred_before:
        stmt = stmt.where(Order.occurred_at < filters.occurred_before)
    return stmt


async def list_page(
    session: AsyncSession, filters: OrderFilters, limit: int, cursor: str | None, principal: Principal
) -> tuple[list[Order], str | None]:
    return await paginate(session, _filtered(filters, principal), ORDER, "-occurred_at", limit, cursor)
