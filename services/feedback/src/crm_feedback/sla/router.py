from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_feedback.common.deps import created
from crm_feedback.common.enums import Severity
from crm_feedback.sla import service as sla_service
from crm_feedback.sla.models import SlaPolicy
from crm_feedback.sla.schemas import SlaPolicyCreate, SlaPolicyRead, SlaPolicyUpdate

router = APIRouter(prefix="/sla-policies", tags=["sla-policies"])


async def valid_policy(policy_id: uuid.UUID, session: SessionDep) -> SlaPolicy:
    return await sla_service.get(session, policy_id=policy_id)


PolicyDep = Annotated[SlaPolicy, Depends(valid_policy)]


def _read(policy: SlaPolicy, response: Response) -> SlaPolicyRead:
    response.headers["ETag"] = etag_for(policy.version)
    return SlaPolicyRead.model_validate(policy)


@router.post("", status_code=201, response_model=SlaPolicyRead, summary="Create an SLA policy")
async def create_policy(
    body: SlaPolicyCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> SlaPolicyRead:
    policy = await sla_service.create(session, data=body)
    created(response, f"/sla-policies/{policy.id}", policy.version)
    return SlaPolicyRead.model_validate(policy)


@router.get("", response_model=Page[SlaPolicyRead], summary="List SLA policies")
async def list_policies(
    session: SessionDep, page: PageDep, principal: PrincipalDep, severity: Severity | None = None
) -> Page[SlaPolicyRead]:
    rows, next_cursor = await sla_service.list_page(session, severity=severity, limit=page.limit, cursor=page.cursor)
    return Page(items=[SlaPolicyRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{policy_id}", response_model=SlaPolicyRead, summary="Read an SLA policy")
async def read_policy(policy: PolicyDep, request: Request, response: Response) -> SlaPolicyRead | Response:
    cached = not_modified(request, etag_for(policy.version))
    return cached if cached is not None else _read(policy, response)


@router.patch("/{policy_id}", response_model=SlaPolicyRead, summary="Change an SLA policy (If-Match)")
async def update_policy(
    policy: PolicyDep, body: SlaPolicyUpdate, request: Request, response: Response, session: SessionDep
) -> SlaPolicyRead:
    require_if_match(request, etag_for(policy.version))
    return _read(await sla_service.update(session, policy=policy, data=body), response)


@router.delete("/{policy_id}", status_code=204, summary="Delete an SLA policy (If-Match)")
async def delete_policy(policy: PolicyDep, request: Request, session: SessionDep) -> Response:
    require_if_match(request, etag_for(policy.version))
    await sla_service.delete(session, policy=policy)
    return Response(status_code=204)
