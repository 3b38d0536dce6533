from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from crm_chassis.dates import Instant
from crm_chassis.db import SessionDep, utcnow
from crm_chassis.pagination import PageDep
from crm_scoring.access import AnalystDep, own_customers_only
from crm_scoring.analytics import service as analytics_service
from crm_scoring.analytics.schemas import AbcView, ChurnView, ManagersView, RetentionView, SegmentsView

router = APIRouter(prefix="/analytics", tags=["analytics"])
# For the gateway's manager analytics (which adds names and the feedback service's part): never
# forwarded by its proxy, so only a peer holding an internal token reaches it.
internal_router = APIRouter(prefix="/internal/analytics", include_in_schema=False)
From = Annotated[Instant | None, Query(alias="from", description="period start (default: to − 90 days)")]
To = Annotated[Instant | None, Query(alias="to", description="period end (default: now)")]


def _period(start: datetime | None, end: datetime | None) -> tuple[Any, Any]:
    end = end or utcnow()
    return start or end - timedelta(days=90), end


@router.get(
    "/retention",
    response_model=RetentionView,
    summary="Retention and churn over a period (DOMAIN.md formula, with its counts)",
)
async def read_retention(
    session: SessionDep, principal: AnalystDep, start: From = None, end: To = None
) -> dict[str, Any]:
    return await analytics_service.retention_between(session, *_period(start, end))


@router.get(
    "/churn",
    response_model=ChurnView,
    summary="Customers lost in a period (paged: `items`), each with estimated loss, its basis, reasons and segment",
)
async def read_churn(
    session: SessionDep, principal: AnalystDep, page: PageDep, start: From = None, end: To = None
) -> dict[str, Any]:
    return await analytics_service.churn_between(session, *_period(start, end), limit=page.limit, cursor=page.cursor)


@router.get("/segments", response_model=SegmentsView, summary="Customers per value segment and per RFM segment")
async def read_segments(session: SessionDep, principal: AnalystDep) -> dict[str, Any]:
    return await analytics_service.segments(session)


@router.get("/abc", response_model=AbcView, summary="ABC classes and the Pareto curve of value")
async def read_abc(session: SessionDep, principal: AnalystDep) -> dict[str, Any]:
    return await analytics_service.abc_curve(session)


@internal_router.get("/managers", response_model=ManagersView)
async def read_manager_figures(
    session: SessionDep, principal: AnalystDep, start: From = None, end: To = None
) -> dict[str, Any]:
    """Per account manager: a manager sees their own and their team's figures, admins and analysts
    every manager's (the gateway hides the names from analysts); agents are refused."""
    return await analytics_service.managers_between(session, *_period(start, end), owners=own_customers_only(principal))
