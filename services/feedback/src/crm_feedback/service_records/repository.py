"""Every query on after-sales service records."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select, update

from crm_chassis.identity import Principal
from crm_chassis.pagination import Page, paginate
from crm_feedback.db import Session
from crm_feedback.readmodel import repository as customer_repo
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.service_records.schemas import ServiceRecordFilters


def _live() -> Select[ServiceRecord]:
    """The service records not deleted: every read starts here."""
    return select(ServiceRecord).where(ServiceRecord.deleted_at.is_(None))


async def get(session: Session, record_id: uuid.UUID) -> ServiceRecord | None:
    return (await session.scalars(_live().where(ServiceRecord.id == record_id))).one_or_none()


async def list_page(
    session: Session, filters: ServiceRecordFilters, limit: int, cursor: str | None, principal: Principal
) -> Page[ServiceRecord]:
    stmt = _live().where(customer_repo.visible_to(principal, ServiceRecord.customer_id))
    for name in ("customer_id", "type", "handler_id"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(ServiceRecord, name) == value)
    if filters.service_date_after:
        stmt = stmt.where(ServiceRecord.service_date >= filters.service_date_after)
    if filters.service_date_before:
        stmt = stmt.where(ServiceRecord.service_date < filters.service_date_before)
    order = [(ServiceRecord.created_at, False), (ServiceRecord.id, False)]
    return await paginate(session, stmt, order, "created_at", limit, cursor)


async def erase_customer(session: Session, customer_id: uuid.UUID) -> None:
    """Clear what was written about the service given to the customer (a new version each)."""
    await session.execute(
        update(ServiceRecord)
        .where(ServiceRecord.customer_id == customer_id)
        .values(description=None, outcome=None, version=ServiceRecord.version + 1)
    )
