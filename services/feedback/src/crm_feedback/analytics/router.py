from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AwareDatetime, ValidationError

from crm_chassis.db import SessionDep, utcnow
from crm_chassis.errors import Unprocessable
from crm_chassis.identity import PrincipalDep
from crm_feedback.analytics import complaints as complaint_analytics
from crm_feedback.analytics import report as survey_report
from crm_feedback.analytics import satisfaction
from crm_feedback.analytics.report_html import render
from crm_feedback.analytics.schemas import Period
from crm_feedback.surveys.router import SurveyDep
from crm_feedback.surveys.schemas import SurveyKind

router = APIRouter(tags=["analytics"])


def period(
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
    interval: Literal["week", "month"] = "month",
) -> Period:
    try:
        return Period(from_=from_, to=to, interval=interval)
    except ValidationError as exc:
        raise Unprocessable(
            "invalid period",
            errors=[{"field": "from", "code": "invalid_period", "message": e["msg"]} for e in exc.errors()],
        ) from exc


PeriodDep = Annotated[Period, Depends(period)]


@router.get("/analytics/satisfaction", summary="NPS, CSAT and satisfaction index over time")
async def satisfaction_trend(
    session: SessionDep,
    principal: PrincipalDep,
    window: PeriodDep,
    survey_id: uuid.UUID | None = None,
    kind: SurveyKind | None = None,
) -> dict[str, Any]:
    return await satisfaction.trend(
        session, start=window.start, end=window.end, interval=window.interval, survey_id=survey_id, kind=kind
    )


@router.get("/analytics/satisfaction/customers/{customer_id}", summary="One customer's satisfaction")
async def customer_satisfaction(customer_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    return await satisfaction.for_customer(session, customer_id=customer_id)


@router.get("/analytics/complaints", summary="Backlog, breach rates, response and resolution times")
async def complaint_report(session: SessionDep, principal: PrincipalDep, window: PeriodDep) -> dict[str, Any]:
    return await complaint_analytics.report(
        session, start=window.start, end=window.end, interval=window.interval, now=utcnow()
    )


@router.get(
    "/surveys/{survey_id}/report",
    summary="Analysis report: JSON, or ?format=html for a self-contained page with charts",
    response_model=None,
    responses={200: {"content": {"text/html": {}}}},
)
async def report(
    survey: SurveyDep, session: SessionDep, principal: PrincipalDep, format: Literal["json", "html"] = "json"
) -> JSONResponse | HTMLResponse:
    data = await survey_report.build(session, survey)
    if format == "html":
        return HTMLResponse(render(jsonable_encoder(data)))
    return JSONResponse(jsonable_encoder(data))
