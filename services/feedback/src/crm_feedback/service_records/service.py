from __future__ import annotations

import uuid
from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import NotFound
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_chassis.patching import changes_of
from crm_feedback import events
from crm_feedback.common.customers import ensure_customer
from crm_feedback.db import Session
from crm_feedback.service_records import repository as record_repo
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.service_records.schemas import ServiceRecordCreate, ServiceRecordFilters, ServiceRecordUpdate


def event_data(record: ServiceRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "customer_id": str(record.customer_id),
        "type": record.type,
        "service_date": record.service_date.isoformat(),
        "complaint_id": str(record.complaint_id) if record.complaint_id else None,
    }


async def create(session: Session, *, data: ServiceRecordCreate, actor: str) -> ServiceRecord:
    await ensure_customer(session, data.customer_id)
    now = utcnow()
    record = ServiceRecord(id=uuid.uuid4(), created_by=actor, created_at=now, updated_at=now, **data.model_dump())
    session.add(record)
    await session.flush()
    await events.publish(session, events.SERVICE_RECORD_RECORDED, record.id, event_data(record), record.version)
    return record


async def get(session: Session, *, record_id: uuid.UUID) -> ServiceRecord:
    record = await record_repo.get(session, record_id)
    if record is None:
        raise NotFound(f"service record {record_id} does not exist", code="service_record_not_found")
    return record


async def update(session: Session, *, record: ServiceRecord, data: ServiceRecordUpdate) -> ServiceRecord:
    fields = changes_of(data, not_nullable=("type", "service_date", "handler"))
    for name, value in fields.items():
        setattr(record, name, value)
    record.updated_at = utcnow()
    await session.flush()
    return record


async def delete(session: Session, *, record: ServiceRecord) -> None:
    record.deleted_at = record.updated_at = utcnow()
    await session.flush()


async def list_page(
    session: Session, *, filters: ServiceRecordFilters, limit: int, cursor: str | None, principal: Principal
) -> Page[ServiceRecord]:
    return await record_repo.list_page(session, filters, limit, cursor, principal)
