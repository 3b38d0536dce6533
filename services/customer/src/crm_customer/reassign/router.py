"""`POST /customers/reassign`: hand customers over as a job; `GET /customers/reassign/{id}`: its progress."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.errors import NotFound
from crm_chassis.identity import PrincipalDep
from crm_customer.deps import SettingsDep
from crm_customer.imports.background import jobs_lifespan, spawn
from crm_customer.reassign import repository as job_repo
from crm_customer.reassign import service as reassign_service
from crm_customer.reassign.schemas import OwnedCount, ReassignCreate, ReassignJobRead

router = APIRouter(tags=["customers"], lifespan=jobs_lifespan("reassign", job_repo.fail_orphans))


@router.post(
    "/customers/reassign",
    status_code=202,
    response_model=ReassignJobRead,
    summary="Hand one account manager's customers over to another (in the background)",
)
async def start_reassign(
    body: ReassignCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> ReassignJobRead:
    job = await reassign_service.start(session, data=body, principal=principal)
    await session.commit()  # the job row must exist before the task reads it
    run = reassign_service.HandOver(job.id, principal, request.app.state.sessionmaker, settings.default_phone_region)
    spawn(request.app, "reassign", job.id, run.run())
    response.headers["Location"] = f"/customers/reassign/{job.id}"
    return ReassignJobRead.of(job)


@router.get("/customers/reassign/{job_id}", response_model=ReassignJobRead, summary="A hand-over: status and progress")
async def read_reassign(job_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ReassignJobRead:
    return ReassignJobRead.of(await reassign_service.get(session, job_id=job_id, principal=principal))


@router.get("/internal/owners/{owner_id}/customers", response_model=OwnedCount, include_in_schema=False)
async def owned_customers(owner_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> OwnedCount:
    """For the gateway, before it disables a user: how many live customers the user still owns."""
    if principal.kind != "service":
        raise NotFound("no such route", code="not_found")
    return OwnedCount(owner_id=owner_id, customers=await reassign_service.owned_count(session, owner_id, principal))
