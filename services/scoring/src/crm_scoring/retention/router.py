from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.pagination import Page, PageDep
from crm_scoring.access import CarerDep, RetentionReaderDep
from crm_scoring.retention import service as action_service
from crm_scoring.retention.schemas import RetentionActionFilters, RetentionActionRead, RetentionActionUpdate

router = APIRouter(prefix="/retention/actions", tags=["retention"])


@router.get(
    "", response_model=Page[RetentionActionRead], summary="Retention actions (churn countermeasures), most urgent first"
)
async def list_retention_actions(
    session: SessionDep,
    page: PageDep,
    principal: RetentionReaderDep,
    filters: Annotated[RetentionActionFilters, Query()],
) -> Page[RetentionActionRead]:
    return await action_service.list_page(session, principal, filters=filters, limit=page.limit, cursor=page.cursor)


@router.get(
    "/{action_id}",
    response_model=RetentionActionRead,
    summary="A retention action",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
async def read_retention_action(
    action_id: uuid.UUID, request: Request, response: Response, session: SessionDep, principal: RetentionReaderDep
) -> RetentionActionRead | Response:
    row = await action_service.get(session, principal, action_id)
    etag = etag_for(row[0].version)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    response.headers["ETag"] = etag
    return action_service.read_model(row, principal)


@router.patch("/{action_id}", response_model=RetentionActionRead, summary="Set the outcome or a note (If-Match)")
async def update_retention_action(
    action_id: uuid.UUID,
    body: RetentionActionUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CarerDep,
) -> RetentionActionRead:
    row = await action_service.get(session, principal, action_id, for_update=True)
    require_if_match(request, etag_for(row[0].version))
    updated = await action_service.update(session, row=row, data=body, principal=principal)
    response.headers["ETag"] = etag_for(updated.version)
    return updated
