"""Every query on orders and refunds, the bulk insert of batches and imports included."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import insert_rows
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page, paginate
from crm_customer.customers import repository as customer_repo
from crm_customer.db import one_of
from crm_customer.orders.models import Order
from crm_customer.orders.schemas import OrderFilters, OrderKind

ORDER = [(Order.occurred_at, True), (Order.id, True)]  # newest first
# What a repost under the same (source, external_ref) must repeat to be the same order.
COMPARED = ("occurred_at", "amount", "currency", "margin", "quantity", "channel", "location", "items", "campaign_id")


def live() -> ColumnElement[bool]:
    """Orders and refunds not deleted."""
    return Order.deleted_at.is_(None)


async def get(session: AsyncSession, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
    stmt = select(Order).where(Order.id == order_id, live())
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def by_external_ref(session: AsyncSession, source: str, external_ref: str) -> Order | None:
    stmt = select(Order).where(Order.source == source, Order.external_ref == external_ref)
    return (await session.scalars(stmt)).one_or_none()


async def refunded_total(session: AsyncSession, order_id: uuid.UUID) -> Decimal:
    total = await session.scalar(
        select(func.coalesce(func.sum(Order.amount), 0)).where(Order.refund_of == order_id, live())
    )
    return -Decimal(total or 0)


def _filtered(filters: OrderFilters, principal: Principal) -> Select[Any]:
    stmt = select(Order).where(live(), customer_repo.of_visible(principal, Order.customer_id))
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
) -> Page[Order]:
    return await paginate(session, _filtered(filters, principal), ORDER, "-occurred_at", limit, cursor)


async def recorded_under(session: AsyncSession, source: str, external_refs: Collection[str]) -> dict[str, Any]:
    """The orders of `source` recorded under these references (deleted ones too), by reference:
    rows with the columns a repost is compared on."""
    columns = [getattr(Order, name) for name in ("id", "external_ref", "customer_id", "refund_of", *COMPARED)]
    stmt = select(*columns).where(Order.source == source, one_of(Order.external_ref, external_refs))
    return {row.external_ref: row for row in (await session.execute(stmt)).all()}


async def insert_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Orders given as complete rows, in one bulk insert (COPY on PostgreSQL: no per-row ORM work)."""
    await insert_rows(session, cast(Table, Order.__table__), rows)


async def purchase_times_of(
    session: AsyncSession, customer_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, Any]]]:
    """For each customer, (id, when) of each of their live purchases (not refunds), with one query."""
    stmt = select(Order.customer_id, Order.id, Order.occurred_at).where(
        one_of(Order.customer_id, customer_ids), Order.refund_of.is_(None), Order.amount >= 0, live()
    )
    found: dict[uuid.UUID, list[tuple[uuid.UUID, Any]]] = {}
    for customer_id, order_id, occurred_at in (await session.execute(stmt)).all():
        found.setdefault(customer_id, []).append((order_id, occurred_at))
    return found
