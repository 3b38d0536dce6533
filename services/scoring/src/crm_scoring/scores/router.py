from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from crm_chassis.dates import business_date
from crm_chassis.db import SessionDep, utcnow
from crm_chassis.errors import NotFound
from crm_chassis.etag import etag_for, not_modified
from crm_chassis.pagination import Page, PageDep
from crm_scoring.access import CarerDep, ReaderDep, own_customers_only
from crm_scoring.models.rfm import RfmSegment
from crm_scoring.models.segments import ValueSegment
from crm_scoring.scores import cards
from crm_scoring.scores import repository as score_repo
from crm_scoring.scores import service as score_service
from crm_scoring.scores.schemas import CareItem, ScoreCard, ScoreSummary

router = APIRouter(tags=["scores"])
SegmentName = Literal[ValueSegment, RfmSegment]
Segment = Annotated[SegmentName | None, Query(description="a value segment or an RFM segment")]


async def score_filters(
    segment: Segment = None,
    abc_class: Literal["A", "B", "C"] | None = None,
    churn_risk_gte: Annotated[float | None, Query(ge=0, le=1)] = None,
    care_status: Literal["on_track", "due", "overdue", "lapsed"] | None = None,
    owner_id: uuid.UUID | None = None,
) -> score_repo.ScoreFilters:
    """The filters of a score list, shared by the live list and a backtest's."""
    return score_repo.ScoreFilters(segment, abc_class, churn_risk_gte, care_status, owner_id)


ScoreFiltersDep = Annotated[score_repo.ScoreFilters, Depends(score_filters)]


@router.get(
    "/customers/{customer_id}/scores",
    response_model=ScoreCard,
    summary="A customer's live score card",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
async def read_score_card(
    customer_id: uuid.UUID, request: Request, response: Response, session: SessionDep, principal: ReaderDep
) -> BaseModel | Response:
    row = await score_repo.get(session, customer_id)
    only = own_customers_only(principal)
    if row is None or (only is not None and row["owner_id"] not in only):
        raise NotFound(f"no score card for customer {customer_id}", code="score_not_found")
    etag = etag_for(row["version"])
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    response.headers["ETag"] = etag
    row = await score_service.with_key_organizations(session, row)
    return cards.card(row, await score_service.live_context(session))


@router.get("/scores", response_model=Page[ScoreSummary], summary="List and filter scores")
async def list_scores(
    session: SessionDep,
    page: PageDep,
    principal: ReaderDep,
    filters: ScoreFiltersDep,
) -> Page[ScoreSummary]:
    return await score_service.list_page(session, principal, filters, limit=page.limit, cursor=page.cursor)


@router.get(
    "/care/due",
    response_model=Page[CareItem],
    summary="Key customers to contact next: an agent's own, a manager's team's, everyone's for admins",
)
async def list_care_due(
    session: SessionDep,
    page: PageDep,
    principal: CarerDep,
    owner_id: Annotated[uuid.UUID | None, Query(description="only this account manager's customers")] = None,
    within_days: Annotated[int, Query(ge=0, le=365, description="also those due within this many days")] = 0,
) -> Page[CareItem]:
    until = business_date(utcnow()) + timedelta(days=within_days)  # due dates are business dates
    return await score_service.care_due(
        session, principal, owner_id=owner_id, until=until, limit=page.limit, cursor=page.cursor
    )
