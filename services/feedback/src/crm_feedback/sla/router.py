from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_feedback.common.deps import created
from crm_feedback.common.enums import Severity
from crm_feedback.sla import service as sla_service
from crm_feedback.sla.models import SlaPolicy
from crm_feedback.sla.schemas import SlaCalendarRead, SlaPolicyCreate, SlaPolicyRead, SlaPolicyUpdate

router = APIRouter(prefix="/sla-policies", tags=["sla-policies"])
# The official working calendars a policy's business calendar can follow (`calendar.official`):
# built in, read-only; a policy's own calendar is part of the policy.
calendars_router = APIRouter(prefix="/sla-calendars", tags=["sla-policies"])


async def valid_policy(policy_id: uuid.UUID, session: SessionDep) -> SlaPolicy:
    return await sla_service.get(session, policy_id=policy_id)


PolicyDep = Annotated[SlaPolicy, Depends(valid_policy)]


def _read(policy: SlaPolicy, response: Response) -> SlaPolicyRead:
    response.headers["ETag"] = etag_for(policy.version)
    return SlaPolicyRead.model_validate(policy)


@router.post("", status_code=201, response_model=SlaPolicyRead, summary="Create an SLA policy")
async def create_sla_policy(
    body: SlaPolicyCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> SlaPolicyRead:
    policy = await sla_service.create(session, data=body)
    created(response, f"/sla-policies/{policy.id}", policy.version)
    return SlaPolicyRead.model_validate(policy)


@router.get("", response_model=Page[SlaPolicyRead], summary="List SLA policies")
async def list_sla_policies(
    session: SessionDep, page: PageDep, principal: PrincipalDep, severity: Severity | None = None
) -> Page[SlaPolicyRead]:
    found = await sla_service.list_page(session, severity=severity, limit=page.limit, cursor=page.cursor)
    return found.map(SlaPolicyRead.model_validate)


@router.get("/{policy_id}", response_model=SlaPolicyRead, summary="Read an SLA policy")
async def read_sla_policy(policy: PolicyDep, request: Request, response: Response) -> SlaPolicyRead | Response:
    cached = not_modified(request, etag_for(policy.version))
    return cached if cached is not None else _read(policy, response)


@router.patch("/{policy_id}", response_model=SlaPolicyRead, summary="Change an SLA policy (If-Match)")
async def update_sla_policy(
    policy: PolicyDep, body: SlaPolicyUpdate, request: Request, response: Response, session: SessionDep
) -> SlaPolicyRead:
    require_if_match(request, etag_for(policy.version))
    return _read(await sla_service.update(session, policy=policy, data=body), response)


@router.delete("/{policy_id}", status_code=204, summary="Delete an SLA policy (If-Match)")
async def delete_sla_policy(policy: PolicyDep, request: Request, session: SessionDep) -> Response:
    require_if_match(request, etag_for(policy.version))
    await sla_service.delete(session, policy=policy)
    return Response(status_code=204)


@calendars_router.get("", response_model=list[SlaCalendarRead], summary="List the official working calendars")
async def list_sla_calendars(principal: PrincipalDep) -> list[SlaCalendarRead]:
    return [
        SlaCalendarRead.model_validate(sla_service.official_calendar(c, None)) for c in sla_service.official_calendars()
    ]


@calendars_router.get(
    "/{calendar_id}",
    response_model=SlaCalendarRead,
    summary="Read an official working calendar and the years it covers",
)
async def read_sla_calendar(
    calendar_id: str,
    principal: PrincipalDep,
    year: Annotated[
        int | None, Query(ge=1900, le=2200, description="also list that year's days off and make-up working days")
    ] = None,
) -> SlaCalendarRead:
    return SlaCalendarRead.model_validate(sla_service.official_calendar(calendar_id, year))
