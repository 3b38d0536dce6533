from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.errors import Unprocessable
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_feedback import access
from crm_feedback.common.customers import ensure_not_merged
from crm_feedback.common.deps import created
from crm_feedback.service_records import service as record_service
from crm_feedback.service_records.models import ServiceRecord
from crm_feedback.service_records.schemas import (
    ServiceRecordCreate,
    ServiceRecordFilters,
    ServiceRecordRead,
    ServiceRecordUpdate,
)

router = APIRouter(prefix="/service-records", tags=["service-records"])


async def valid_record(record_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ServiceRecord:
    record = await record_service.get(session, record_id=record_id)
    await access.require_visible(session, principal, record.customer_id, f"service record {record_id}")
    return record


RecordDep = Annotated[ServiceRecord, Depends(valid_record)]


def _read(record: ServiceRecord, response: Response) -> ServiceRecordRead:
    response.headers["ETag"] = etag_for(record.version)
    return ServiceRecordRead.model_validate(record)


@router.post("", status_code=201, response_model=ServiceRecordRead, summary="Record an after-sales service")
async def create_service_record(
    body: ServiceRecordCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> ServiceRecordRead:
    # A customer the caller may not see is unknown to them, merged away or not; their own merged one is 409.
    if not await access.can_see_customer(session, principal, body.customer_id):
        raise Unprocessable.field("customer_id", "unknown_customer", f"no active customer {body.customer_id}")
    await ensure_not_merged(session, [body.customer_id])
    record = await record_service.create(session, data=body, actor=principal.subject)
    created(response, f"/service-records/{record.id}", record.version)
    return ServiceRecordRead.model_validate(record)


@router.get("", response_model=Page[ServiceRecordRead], summary="List after-sales service records")
async def list_service_records(
    session: SessionDep,
    page: PageDep,
    principal: PrincipalDep,
    filters: Annotated[ServiceRecordFilters, Query()],
) -> Page[ServiceRecordRead]:
    found = await record_service.list_page(
        session, filters=filters, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return found.map(ServiceRecordRead.model_validate)


@router.get("/{record_id}", response_model=ServiceRecordRead, summary="Read a service record")
async def read_service_record(record: RecordDep, request: Request, response: Response) -> ServiceRecordRead | Response:
    cached = not_modified(request, etag_for(record.version))
    return cached if cached is not None else _read(record, response)


@router.patch("/{record_id}", response_model=ServiceRecordRead, summary="Change a service record (If-Match)")
async def update_service_record(
    record: RecordDep,
    body: ServiceRecordUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> ServiceRecordRead:
    require_if_match(request, etag_for(record.version))
    updated = await record_service.update(session, record=record, data=body)
    return _read(updated, response)


@router.delete("/{record_id}", status_code=204, summary="Delete a service record (If-Match)")
async def delete_service_record(record: RecordDep, request: Request, session: SessionDep) -> Response:
    require_if_match(request, etag_for(record.version))
    await record_service.delete(session, record=record)
    return Response(status_code=204)
