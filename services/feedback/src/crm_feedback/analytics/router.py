from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from crm_chassis.dates import Instant
from crm_chassis.db import SessionDep, utcnow
from crm_chassis.errors import Forbidden, Unprocessable
from crm_chassis.identity import PrincipalDep, visible_owners
from crm_feedback import access
from crm_feedback.analytics import complaints as complaint_analytics
from crm_feedback.analytics import report as survey_report
from crm_feedback.analytics import repository as analytics_repo
from crm_feedback.analytics import satisfaction
from crm_feedback.analytics.report_html import render
from crm_feedback.analytics.schemas import (
    ComplaintReport,
    ComplaintsByOwner,
    CustomerSatisfaction,
    OwnerComplaints,
    Period,
    SatisfactionTrend,
    SurveyReport,
)
from crm_feedback.common.i18n import LanguageDep, language_headers
from crm_feedback.surveys.router import SurveyDep
from crm_feedback.surveys.schemas import SurveyKind

router = APIRouter(tags=["analytics"])
# For the gateway's manager analytics: never forwarded by its proxy, so only a peer holding an
# internal token reaches it.
internal_router = APIRouter(prefix="/internal/analytics", include_in_schema=False)
AGGREGATE_ROLES = frozenset({"admin", "manager", "analyst", "service"})


async def period(
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
    interval: Literal["week", "month"] = "month",
) -> Period:
    try:
        return Period(from_=from_, to=to, interval=interval)
    except ValidationError as exc:
        raise Unprocessable(
            "invalid period",
            errors=[{"field": "query.from", "code": "invalid_period", "message": e["msg"]} for e in exc.errors()],
        ) from exc


PeriodDep = Annotated[Period, Depends(period)]


@router.get(
    "/analytics/satisfaction", response_model=SatisfactionTrend, summary="NPS, CSAT and satisfaction index over time"
)
async def read_satisfaction_trend(
    session: SessionDep,
    principal: PrincipalDep,
    window: PeriodDep,
    survey_id: uuid.UUID | None = None,
    kind: SurveyKind | None = None,
) -> dict[str, Any]:
    return await satisfaction.trend(
        session, start=window.start, end=window.end, interval=window.interval, survey_id=survey_id, kind=kind
    )


@router.get(
    "/analytics/satisfaction/customers/{customer_id}",
    response_model=CustomerSatisfaction,
    summary="One customer's satisfaction",
)
async def read_customer_satisfaction(
    customer_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    await access.require_visible(session, principal, customer_id, f"customer {customer_id}")
    return await satisfaction.for_customer(session, customer_id=customer_id)


@router.get(
    "/analytics/complaints",
    response_model=ComplaintReport,
    summary="Backlog, breach rates, response and resolution times",
)
async def read_complaint_report(session: SessionDep, principal: PrincipalDep, window: PeriodDep) -> dict[str, Any]:
    return await complaint_analytics.report(
        session, start=window.start, end=window.end, interval=window.interval, now=utcnow()
    )


@router.get(
    "/surveys/{survey_id}/report",
    summary="Analysis report (JSON, or ?format=html with charts), in the language of Accept-Language",
    response_model=SurveyReport,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
async def read_survey_report(
    survey: SurveyDep,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    response: Response,
    format: Literal["json", "html"] = "json",
) -> SurveyReport | HTMLResponse:
    data = await survey_report.build(session, survey, language)
    headers = language_headers(language)
    if format == "html":
        return HTMLResponse(render(jsonable_encoder(data), language), headers=headers)
    response.headers.update(headers)
    return SurveyReport.model_validate(data)


@internal_router.get("/complaints/by-owner", response_model=ComplaintsByOwner)
async def read_complaints_by_owner(
    session: SessionDep, principal: PrincipalDep, window: PeriodDep
) -> ComplaintsByOwner:
    """Per account manager: a manager their own and their team's, admins, analysts and partner keys with
    `analytics:read` all; agents refused."""
    if principal.kind == "api_key":
        if "analytics:read" not in principal.scopes:  # the scope the gateway opens aggregates with
            raise Forbidden("this API key lacks the analytics:read scope", code="missing_scope")
    elif principal.role not in AGGREGATE_ROLES:
        raise Forbidden("aggregates need the analyst, manager or admin role")
    rows = await analytics_repo.resolved_by_owner(
        session, start=window.start, end=window.end, owners=visible_owners(principal)
    )
    return ComplaintsByOwner(
        from_=window.start,
        to=window.end,
        items=[OwnerComplaints(owner_id=owner, resolved=n, resolved_within_sla=within) for owner, n, within in rows],
    )
