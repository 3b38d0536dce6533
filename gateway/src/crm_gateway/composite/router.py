"""Composite reads across the services: `GET /customers/{id}/overview` (the customer overview) and
`GET /analytics/managers` (manager performance)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from crm_chassis.context import current_request_id
from crm_chassis.dates import Instant
from crm_chassis.db import utcnow
from crm_chassis.errors import PROBLEM_JSON, Unprocessable
from crm_chassis.identity import INTERNAL_HEADER, Principal, sign_internal_token
from crm_gateway.auth.principals import AuthorisedDep
from crm_gateway.composite import managers as manager_analytics
from crm_gateway.composite import service as composite_service
from crm_gateway.composite.schemas import ManagersPerformance, Overview
from crm_gateway.config import PUBLIC_PREFIX, Settings, SettingsDep
from crm_gateway.db import SessionDep

router = APIRouter(tags=["composite"])
MAX_SPAN = timedelta(days=5 * 366)  # the longest period the feedback service's analytics accept


def _headers(principal: Principal, settings: Settings) -> dict[str, str]:
    """The caller's identity for the services, and this request's id."""
    token = sign_internal_token(
        principal, settings.internal_secret.get_secret_value(), settings.internal_token_ttl_seconds
    )
    return {INTERNAL_HEADER: token, "X-Request-ID": current_request_id() or ""}


@router.get(
    PUBLIC_PREFIX + "/customers/{customer_id}/overview",
    response_model=Overview,
    summary="Profile, score card, open complaints and latest satisfaction in one read",
    responses={
        301: {"description": "The customer was merged into the one in `Location`"},
        502: {"description": "The customer service failed to answer properly"},
        504: {"description": "The customer service did not answer in time"},
    },
)
async def read_customer_overview(
    customer_id: uuid.UUID, request: Request, principal: AuthorisedDep, settings: SettingsDep
) -> Overview | JSONResponse:
    headers = _headers(principal, settings)
    clients: dict[str, httpx.AsyncClient] = request.app.state.upstreams
    found = await composite_service.overview(clients, customer_id, headers=headers, principal=principal)
    if isinstance(found, composite_service.Moved):
        # the customer service's problem, told as this route's: its path, with the public prefix
        moved = {**found.body, "instance": request.url.path}
        return JSONResponse(moved, status_code=301, headers={"Location": found.location}, media_type=PROBLEM_JSON)
    return found


@router.get(
    PUBLIC_PREFIX + "/analytics/managers",
    response_model=ManagersPerformance,
    summary="Per account manager over a period: book, revenue, care, retention, retention actions, complaints",
    responses={
        502: {"description": "The scoring service failed to answer properly"},
        503: {"description": "The scoring service is paused after repeated failures: retry after `Retry-After`"},
        504: {"description": "The scoring service did not answer in time"},
    },
)
async def read_manager_performance(
    request: Request,
    principal: AuthorisedDep,
    settings: SettingsDep,
    session: SessionDep,
    start: Annotated[Instant | None, Query(alias="from", description="period start (default: to − 90 days)")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="period end (default: now)")] = None,
) -> ManagersPerformance | JSONResponse:
    end = end or utcnow()
    start = start or end - timedelta(days=90)
    if start >= end or end - start > MAX_SPAN:
        raise Unprocessable(
            "from must be before to, at most five years apart",
            errors=[{"field": "query.from", "code": "invalid_period", "message": "from ≥ to, or over five years"}],
        )
    clients: dict[str, httpx.AsyncClient] = request.app.state.upstreams
    try:
        return await manager_analytics.performance(
            clients, session, start=start, end=end, headers=_headers(principal, settings), principal=principal
        )
    except manager_analytics.UpstreamProblem as problem:
        return JSONResponse(problem.body, status_code=problem.status, media_type="application/problem+json")
