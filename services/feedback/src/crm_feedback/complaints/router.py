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
from crm_feedback.common.deps import SettingsDep, created
from crm_feedback.complaints import service as complaint_service
from crm_feedback.complaints import views
from crm_feedback.complaints.models import Complaint
from crm_feedback.complaints.schemas import (
    ComplaintCreate,
    ComplaintFilters,
    ComplaintRead,
    ComplaintSort,
    ComplaintUpdate,
    FollowUpRequest,
    TransitionRequest,
    TransitionResult,
)

router = APIRouter(prefix="/complaints", tags=["complaints"])


async def valid_complaint(complaint_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Complaint:
    complaint = await complaint_service.get(session, complaint_id=complaint_id)
    await access.require_visible(session, principal, complaint.customer_id, f"complaint {complaint_id}")
    return complaint


ComplaintDep = Annotated[Complaint, Depends(valid_complaint)]


async def _read(session: SessionDep, complaint: Complaint, response: Response) -> ComplaintRead:
    response.headers["ETag"] = etag_for(complaint.version)
    return views.read_model(complaint, await complaint_service.history(session, complaint))


@router.post("", status_code=201, response_model=ComplaintRead, summary="Open a complaint")
async def create_complaint(
    body: ComplaintCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> ComplaintRead:
    # A customer the caller may not see is unknown to them, merged away or not; their own merged one is 409.
    if not await access.can_see_customer(session, principal, body.customer_id):
        raise Unprocessable.field("customer_id", "unknown_customer", f"no active customer {body.customer_id}")
    await ensure_not_merged(session, [body.customer_id])
    complaint = await complaint_service.create(session, data=body, actor=principal.subject)
    created(response, f"/complaints/{complaint.id}", complaint.version)
    return await _read(session, complaint, response)


@router.get("", response_model=Page[ComplaintRead], summary="List complaints")
async def list_complaints(
    session: SessionDep,
    page: PageDep,
    principal: PrincipalDep,
    filters: Annotated[ComplaintFilters, Query()],
    sort: ComplaintSort = ComplaintSort.opened_at,
) -> Page[ComplaintRead]:
    found, histories = await complaint_service.list_page(
        session, filters=filters, sort=sort, page=page, principal=principal
    )
    return found.map(lambda r: views.read_model(r, histories[r.id]))


@router.get(
    "/{complaint_id}",
    response_model=ComplaintRead,
    summary="Read a complaint with its full history",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
async def read_complaint(
    complaint: ComplaintDep, session: SessionDep, request: Request, response: Response
) -> ComplaintRead | Response:
    cached = not_modified(request, etag_for(complaint.version))
    return cached if cached is not None else await _read(session, complaint, response)


@router.patch("/{complaint_id}", response_model=ComplaintRead, summary="Edit a complaint (If-Match)")
async def update_complaint(
    complaint: ComplaintDep,
    body: ComplaintUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> ComplaintRead:
    require_if_match(request, etag_for(complaint.version))
    await complaint_service.update(session, complaint=complaint, data=body, actor=principal.subject)
    return await _read(session, complaint, response)


@router.post(
    "/{complaint_id}/transitions",
    response_model=TransitionResult,
    summary="Move a complaint through its workflow",
    description="Actions: acknowledge, start, wait_on_customer, resolve (needs `resolution`), close, "
    "reopen, escalate. An action the current status does not allow → 409 with `allowed`.",
)
async def transition_complaint(
    complaint: ComplaintDep,
    body: TransitionRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> TransitionResult:
    if "if-match" in request.headers:
        require_if_match(request, etag_for(complaint.version))
    invitation = await complaint_service.transition(
        session, complaint=complaint, data=body, actor=principal.subject, settings=settings
    )
    read = await _read(session, complaint, response)
    return TransitionResult(**read.model_dump(), csat_invitation=invitation)


@router.post(
    "/{complaint_id}/follow-up",
    response_model=ComplaintRead,
    summary="Record the customer's attitude after handling (追踪调查)",
)
async def follow_up_complaint(
    complaint: ComplaintDep,
    body: FollowUpRequest,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> ComplaintRead:
    await complaint_service.follow_up(session, complaint=complaint, data=body, actor=principal.subject)
    return await _read(session, complaint, response)
