from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from crm_chassis.db import SessionDep, utcnow
from crm_scoring.access import AnalystDep
from crm_scoring.analytics import service as analytics_service

router = APIRouter(prefix="/analytics", tags=["analytics"])
From = Annotated[AwareDatetime | None, Query(alias="from", description="period start (default: to − 90 days)")]
To = Annotated[AwareDatetime | None, Query(alias="to", description="period end (default: now)")]


def _period(start: AwareDatetime | None, end: AwareDatetime | None) -> tuple[Any, Any]:
    end = end or utcnow()
    return start or end - timedelta(days=90), end


@router.get("/retention", summary="Retention and churn over a period (DOMAIN.md formula, with its counts)")
async def read_retention(
    session: SessionDep, principal: AnalystDep, start: From = None, end: To = None
) -> dict[str, Any]:
    return await analytics_service.retention_between(session, *_period(start, end))


@router.get("/churn", summary="Customers lost in a period, their reasons and the estimated loss")
async def read_churn(session: SessionDep, principal: AnalystDep, start: From = None, end: To = None) -> dict[str, Any]:
    return await analytics_service.churn_between(session, *_period(start, end))


@router.get("/segments", summary="Customers per value segment and per RFM segment")
async def read_segments(session: SessionDep, principal: AnalystDep) -> dict[str, Any]:
    return await analytics_service.segments(session)


@router.get("/abc", summary="ABC classes and the Pareto curve of value")
async def read_abc(session: SessionDep, principal: AnalystDep) -> dict[str, Any]:
    return await analytics_service.abc_curve(session)
