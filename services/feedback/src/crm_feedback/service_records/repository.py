from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.identity import Principal
from crm_chassis.pagination import paginate
from crm_feedback import access
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.service_records.schemas import ServiceRecordFilters


async def get(session: AsyncSession, record_id: uuid.UUID) -> ServiceRecord | None:
    stmt = select(ServiceRecord).where(ServiceRecord.id == record_id, ServiceRecord.deleted_at.is_(None))
    return (await session.scalars(stmt)).one_or_none()


async def list_page(
    session: AsyncSession, filters: ServiceRecordFilters, limit: int, cursor: str | None, principal: Principal
) -> tuple[Sequence[ServiceRecord], str | None]:
    stmt = select(ServiceRecord).where(
        ServiceRecord.deleted_at.is_(None), access.customer_clause(principal, ServiceRecord.customer_id)
    )
    for name in ("customer_id", "type", "handler_id"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(ServiceRecord, name) == value)
    if filters.date_from:
        stmt = stmt.where(ServiceRecord.service_date >= filters.date_from)
    if filters.date_to:
        stmt = stmt.where(ServiceRecord.service_date <= filters.date_to)
    order = [(ServiceRecord.created_at, False), (ServiceRecord.id, False)]
    return await paginate(session, stmt, order, "created_at", limit, cursor)
