"""`/campaigns`: define a campaign and its target, start it (members as a job), record responses, report."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer.campaigns import report as campaign_report
from crm_customer.campaigns import repository as campaign_repo
from crm_customer.campaigns import service as campaign_service
from crm_customer.campaigns.models import Campaign, CampaignSnapshot
from crm_customer.campaigns.report_html import render
from crm_customer.campaigns.schemas import (
    CampaignCreate,
    CampaignFilters,
    CampaignMemberRead,
    CampaignRead,
    CampaignReport,
    CampaignResponseCreate,
    CampaignResponseRead,
    CampaignStartProgress,
    CampaignStartRead,
    CampaignUpdate,
)
from crm_customer.deps import SettingsDep
from crm_customer.imports.background import jobs_lifespan, spawn
from crm_customer.imports.schemas import JobStatus
from crm_customer.job_schemas import JobReadEnd

router = APIRouter(
    prefix="/campaigns", tags=["campaigns"], lifespan=jobs_lifespan("campaign-start", campaign_repo.fail_orphans)
)


async def valid_campaign(campaign_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Campaign:
    return await campaign_service.get(session, campaign_id=campaign_id, principal=principal)


CampaignDep = Annotated[Campaign, Depends(valid_campaign)]


def _read(campaign: Campaign, response: Response) -> CampaignRead:
    response.headers["ETag"] = etag_for(campaign.version)
    return CampaignRead.model_validate(campaign)


def _job(job: CampaignSnapshot) -> CampaignStartRead:
    return CampaignStartRead(
        id=job.id,
        campaign_id=job.campaign_id,
        status=JobStatus(job.status),
        progress=CampaignStartProgress(
            done=job.added + job.excluded, total=job.total, added=job.added, excluded=job.excluded
        ),
        **JobReadEnd.values_of(job),
    )


@router.post("", status_code=201, response_model=CampaignRead, summary="Create a campaign (a draft)")
async def create_campaign(
    body: CampaignCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> CampaignRead:
    campaign = await campaign_service.create(session, data=body, principal=principal)
    response.headers["Location"] = f"/campaigns/{campaign.id}"
    return _read(campaign, response)


@router.get("", response_model=Page[CampaignRead], summary="List campaigns, newest first")
async def list_campaigns(
    session: SessionDep, principal: PrincipalDep, page: PageDep, filters: Annotated[CampaignFilters, Query()]
) -> Page[CampaignRead]:
    found = await campaign_service.list_page(
        session, filters=filters, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return found.map(CampaignRead.model_validate)


@router.get(
    "/{campaign_id}",
    response_model=CampaignRead,
    summary="Read a campaign",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
async def read_campaign(campaign: CampaignDep, request: Request, response: Response) -> CampaignRead | Response:
    cached = not_modified(request, etag_for(campaign.version))
    return cached if cached is not None else _read(campaign, response)


@router.patch("/{campaign_id}", response_model=CampaignRead, summary="Change a campaign or its status (If-Match)")
async def update_campaign(
    campaign: CampaignDep,
    body: CampaignUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> CampaignRead:
    require_if_match(request, etag_for(campaign.version))
    updated = await campaign_service.update(session, campaign=campaign, data=body, principal=principal)
    return _read(updated, response)


@router.delete("/{campaign_id}", status_code=204, summary="Soft-delete a campaign that is not running (If-Match)")
async def delete_campaign(campaign: CampaignDep, request: Request, session: SessionDep) -> Response:
    require_if_match(request, etag_for(campaign.version))
    await campaign_service.delete(session, campaign=campaign)
    return Response(status_code=204)


@router.post(
    "/{campaign_id}/start",
    status_code=202,
    response_model=CampaignStartRead,
    summary="Start the campaign: its target's customers with marketing consent become members (in the background)",
)
async def start_campaign(
    campaign: CampaignDep, request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> CampaignStartRead:
    job = await campaign_service.start(session, campaign=campaign, principal=principal)
    await session.commit()  # the job row must exist before the task reads it
    run = campaign_service.TakeInMembers(job.id, principal, request.app.state.sessionmaker)
    spawn(request.app, "campaign-start", job.id, run.run())
    response.headers["Location"] = f"/campaigns/{campaign.id}/starts/{job.id}"
    return _job(job)


@router.get("/{campaign_id}/starts/{job_id}", response_model=CampaignStartRead, summary="A start: status and progress")
async def read_campaign_start(campaign: CampaignDep, job_id: uuid.UUID, session: SessionDep) -> CampaignStartRead:
    return _job(await campaign_service.snapshot(session, campaign=campaign, job_id=job_id))


@router.get("/{campaign_id}/members", response_model=Page[CampaignMemberRead], summary="The campaign's members")
async def list_campaign_members(
    campaign: CampaignDep, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Page[CampaignMemberRead]:
    found = await campaign_service.members_page(
        session, campaign=campaign, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return found.map(CampaignMemberRead.model_validate)


@router.post(
    "/{campaign_id}/responses",
    status_code=201,
    response_model=CampaignResponseRead,
    summary="Record a member's response (`unsubscribed` withdraws marketing consent)",
)
async def record_campaign_response(
    campaign: CampaignDep,
    body: CampaignResponseCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    response: Response,
) -> CampaignResponseRead:
    recorded = await campaign_service.record_response(
        session, campaign=campaign, data=body, principal=principal, phone_region=settings.default_phone_region
    )
    response.headers["Location"] = f"/campaigns/{campaign.id}/responses/{recorded.id}"
    return CampaignResponseRead.model_validate(recorded)


@router.get("/{campaign_id}/responses", response_model=Page[CampaignResponseRead], summary="Responses, newest first")
async def list_campaign_responses(
    campaign: CampaignDep, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Page[CampaignResponseRead]:
    found = await campaign_service.responses_page(
        session, campaign=campaign, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return found.map(CampaignResponseRead.model_validate)


@router.get("/{campaign_id}/responses/{response_id}", response_model=CampaignResponseRead, summary="Read a response")
async def read_campaign_response(
    campaign: CampaignDep, response_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> CampaignResponseRead:
    found = await campaign_service.get_response(
        session, campaign=campaign, response_id=response_id, principal=principal
    )
    return CampaignResponseRead.model_validate(found)


@router.get(
    "/{campaign_id}/report",
    response_model=CampaignReport,
    summary="Members, response rates, conversion, attributed revenue and margin, ROI; per value segment",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
async def read_campaign_report(
    campaign: CampaignDep,
    session: SessionDep,
    settings: SettingsDep,
    format: Literal["json", "html"] = "json",
) -> CampaignReport | HTMLResponse:
    report = await campaign_report.build(session, campaign, settings.campaign_attribution_days)
    return HTMLResponse(render(report)) if format == "html" else report
