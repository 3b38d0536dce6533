"""Every query on the customer table."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, column, exists, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_chassis.identity import Principal
from crm_chassis.pagination import paginate
from crm_customer import access
from crm_customer.customers.models import Customer, CustomerChange, OwnerChange
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


async def owner_of(session: AsyncSession, customer_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Customer.owner_id).where(Customer.id == customer_id))


async def merged_into(session: AsyncSession, customer_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Customer.merged_into).where(Customer.id == customer_id))


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


def _filtered(session: AsyncSession, filters: CustomerFilters, principal: Principal) -> Select[Customer]:
    stmt = select(Customer).where(Customer.deleted_at.is_(None), access.owner_clause(principal, Customer.owner_id))
    if filters.q:
        stmt = stmt.where(search_clause(filters.q))
    for name in ("kind", "owner_id", "lifecycle_stage", "acquisition_channel", "external_ref", "referred_by"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Customer, name) == value)
    if filters.tag:
        stmt = stmt.where(_has_tag(session, filters.tag))
    if filters.key is not None:
        stmt = stmt.where(key_clause() if filters.key else ~key_clause())
    if filters.created_after:
        stmt = stmt.where(Customer.created_at >= filters.created_after)
    if filters.created_before:
        stmt = stmt.where(Customer.created_at < filters.created_before)
    if filters.updated_after:
        stmt = stmt.where(Customer.updated_at >= filters.updated_after)
    return stmt


async def list_page(
    session: AsyncSession,
    filters: CustomerFilters,
    sort: CustomerSort,
    limit: int,
    cursor: str | None,
    principal: Principal,
) -> tuple[Sequence[Customer], str | None]:
    return await paginate(session, _filtered(session, filters, principal), _SORTS[sort], sort, limit, cursor)


def key_clause() -> ColumnElement[bool]:
    """Key customers, and the senior leaders of key organisations (so that care misses no one)."""
    from crm_customer.contacts.models import Contact

    org = aliased(Customer)
    senior_of_key_org = (
        select(Contact.person_id)
        .join(org, org.id == Contact.organization_id)
        .where(
            Contact.is_senior_leader.is_(True),
            Contact.deleted_at.is_(None),
            Contact.person_id.is_not(None),
            org.is_key.is_(True),
            org.deleted_at.is_(None),
        )
    )
    return or_(Customer.is_key.is_(True), Customer.id.in_(senior_of_key_org))


async def key_reasons(session: AsyncSession, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Why each customer counts as key: its own flag, or the key organisations it leads."""
    from crm_customer.contacts.models import Contact

    reasons: dict[uuid.UUID, list[str]] = {cid: [] for cid in customer_ids}
    own = await session.execute(
        select(Customer.id, Customer.key_reason).where(Customer.id.in_(customer_ids), Customer.is_key.is_(True))
    )
    for cid, reason in own:
        reasons[cid].append(reason or "flagged as a key customer")
    org = aliased(Customer)
    led = await session.execute(
        select(Contact.person_id, org.name)
        .join(org, org.id == Contact.organization_id)
        .where(
            Contact.person_id.in_(customer_ids),
            Contact.is_senior_leader.is_(True),
            Contact.deleted_at.is_(None),
            org.is_key.is_(True),
            org.deleted_at.is_(None),
        )
    )
    for person_id, org_name in led:
        if person_id is not None:
            reasons[person_id].append(f"senior leader of key organisation {org_name}")
    return reasons


async def history_page(
    session: AsyncSession, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[CustomerChange], str | None]:
    stmt = select(CustomerChange).where(CustomerChange.customer_id == customer_id)
    order = [(CustomerChange.changed_at, True), (CustomerChange.id, True)]
    return await paginate(session, stmt, order, "-changed_at", limit, cursor)


async def owner_history(session: AsyncSession, customer_id: uuid.UUID) -> Sequence[OwnerChange]:
    stmt = select(OwnerChange).where(OwnerChange.customer_id == customer_id).order_by(OwnerChange.changed_at)
    return (await session.scalars(stmt)).all()


async def referrals(
    session: AsyncSession, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[int, list[Customer], str | None]:
    base = select(Customer).where(Customer.referred_by == customer_id, Customer.deleted_at.is_(None))
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows, next_cursor = await paginate(session, base, _SORTS[CustomerSort.created_at], "created_at", limit, cursor)
    return int(total or 0), rows, next_cursor
