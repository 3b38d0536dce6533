"""Every query on the customer table."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, column, exists, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import paginate
from crm_customer.customers.models import Customer
from crm_customer.customers.schemas import CustomerFilters, CustomerSort, normalise_text

_SORTS: dict[str, list[tuple[Any, bool]]] = {
    CustomerSort.created_at: [(Customer.created_at, False), (Customer.id, False)],
    CustomerSort.created_at_desc: [(Customer.created_at, True), (Customer.id, True)],
    CustomerSort.updated_at: [(Customer.updated_at, False), (Customer.id, False)],
    CustomerSort.updated_at_desc: [(Customer.updated_at, True), (Customer.id, True)],
    CustomerSort.name: [(Customer.name, False), (Customer.id, False)],
    CustomerSort.name_desc: [(Customer.name, True), (Customer.id, True)],
}


async def get(session: AsyncSession, customer_id: uuid.UUID, *, include_deleted: bool = False) -> Customer | None:
    stmt = select(Customer).where(Customer.id == customer_id)
    if not include_deleted:
        stmt = stmt.where(Customer.deleted_at.is_(None))
    return (await session.scalars(stmt)).one_or_none()


async def exists_active(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    return bool(
        await session.scalar(select(literal(True)).where(Customer.id == customer_id, Customer.deleted_at.is_(None)))
    )


async def id_by_external_ref(session: AsyncSession, external_ref: str) -> uuid.UUID | None:
    return await session.scalar(select(Customer.id).where(Customer.external_ref == external_ref))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_tag(session: AsyncSession, tag: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(Customer.tags, JSONB).contains([tag])
    each = func.json_each(Customer.tags).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(column("value") == tag))


def search_clause(q: str) -> ColumnElement[bool]:
    digits = "".join(ch for ch in q if ch.isdigit())
    looks_like_phone = len(digits) >= 3 and all(ch.isdigit() or ch in "+-() " for ch in q)
    needle = digits if looks_like_phone else normalise_text(q)
    return Customer.search_text.like(f"%{_escape_like(needle)}%", escape="\\")


def _filtered(session: AsyncSession, filters: CustomerFilters) -> Select[Customer]:
    stmt = select(Customer).where(Customer.deleted_at.is_(None))
    if filters.q:
        stmt = stmt.where(search_clause(filters.q))
    for name in ("kind", "owner_id", "lifecycle_stage", "acquisition_channel", "external_ref", "referred_by"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Customer, name) == value)
    if filters.tag:
        stmt = stmt.where(_has_tag(session, filters.tag))
    if filters.created_after:
        stmt = stmt.where(Customer.created_at >= filters.created_after)
    if filters.created_before:
        stmt = stmt.where(Customer.created_at < filters.created_before)
    if filters.updated_after:
        stmt = stmt.where(Customer.updated_at >= filters.updated_after)
    return stmt


async def list_page(
    session: AsyncSession, filters: CustomerFilters, sort: CustomerSort, limit: int, cursor: str | None
) -> tuple[Sequence[Customer], str | None]:
    return await paginate(session, _filtered(session, filters), _SORTS[sort], sort, limit, cursor)
