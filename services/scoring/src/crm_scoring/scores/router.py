from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from crm_chassis.db import SessionDep, utcnow
from crm_chassis.errors import Forbidden, NotFound
from crm_chassis.etag import etag_for, not_modified
from crm_chassis.pagination import Page, PageDep
from crm_scoring.access import ReaderDep, own_customers_only
from crm_scoring.models import rfm
from crm_scoring.scores import cards
from crm_scoring.scores import repository as score_repo
from crm_scoring.scores import service as score_service
from crm_scoring.scores.schemas import ScoreCard, ScoreSummary

router = APIRouter(tags=["scores"])
Segment = Annotated[str | None, Query(max_length=32, description="a value segment or an RFM segment")]


def _summary(row: Any) -> ScoreSummary:
    s, owner_id, name = row
    return ScoreSummary(
        customer_id=s.customer_id,
        owner_id=owner_id,
        display_name=name,
        as_of=s.as_of,
        rfm_code=rfm.code(s.rfm_r, s.rfm_f, s.rfm_m) if s.rfm_r and s.rfm_f and s.rfm_m else None,
        rfm_segment=s.rfm_segment,
        value_segment=s.value_segment,
        abc_class=s.abc_class,
        key_customer_kind=s.key_customer_kind,
        churn_risk=s.churn_risk,
        lifecycle_suggestion=s.lifecycle_suggestion,
        p_alive=s.p_alive,
        clv_probabilistic=s.clv_probabilistic,
        care_status=s.care_status,
        care_due_date=s.care_due_date,
        last_contact_at=s.last_contact_at,
    )


@router.get(
    "/customers/{customer_id}/scores",
    response_model=ScoreCard,
    summary="A customer's score card",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
async def read_score_card(
    customer_id: uuid.UUID, request: Request, response: Response, session: SessionDep, principal: ReaderDep
) -> ScoreCard | Response:
    row: Any = await score_repo.get(session, customer_id)
    only = own_customers_only(principal)
    if row is None or (only is not None and row[1] not in only):
        raise NotFound(f"no score card for customer {customer_id}", code="score_not_found")
    model = await score_service.latest_model(session)
    etag = etag_for(row[0].version)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    response.headers["ETag"] = etag
    return ScoreCard.model_validate(cards.card(row[0], model.model if model else None))


@router.get("/scores", response_model=Page[ScoreSummary], summary="List and filter scores")
async def list_scores(
    session: SessionDep,
    page: PageDep,
    principal: ReaderDep,
    segment: Segment = None,
    abc_class: Literal["A", "B", "C"] | None = None,
    churn_risk_gte: Annotated[float | None, Query(ge=0, le=1)] = None,
    care_status: Literal["on_track", "due", "overdue", "lapsed"] | None = None,
    owner_id: uuid.UUID | None = None,
) -> Page[ScoreSummary]:
    only = own_customers_only(principal)
    if only is not None and owner_id is not None and owner_id not in only:
        raise Forbidden("an account manager sees their own (or their team's) customers only")
    rows, next_cursor = await score_repo.list_page(
        session,
        segment=segment,
        abc_class=abc_class,
        churn_risk_gte=churn_risk_gte,
        care_status=care_status,
        owner_id=owner_id,
        visible_owners=only,
        limit=page.limit,
        cursor=page.cursor,
    )
    return Page(items=[_summary(r) for r in rows], next_cursor=next_cursor)


@router.get("/care/due", response_model=Page[ScoreSummary], summary="Key customers to contact next")
async def care_due(
    session: SessionDep,
    page: PageDep,
    principal: ReaderDep,
    owner_id: uuid.UUID | None = None,
    within_days: Annotated[int, Query(ge=0, le=365, description="also those due within this many days")] = 0,
) -> Page[ScoreSummary]:
    only = own_customers_only(principal)
    if only is not None and owner_id is not None and owner_id not in only:
        raise Forbidden("an account manager sees their own (or their team's) list only")
    if owner_id is None:
        try:
            owner_id = uuid.UUID(principal.subject)
        except ValueError as exc:
            raise NotFound("the caller manages no customers; pass owner_id", code="no_owner") from exc
    until = (utcnow() + timedelta(days=within_days)).date()
    rows, next_cursor = await score_repo.care_due(
        session, owner_id=owner_id, until=until, limit=page.limit, cursor=page.cursor
    )
    return Page(items=[_summary(r) for r in rows], next_cursor=next_cursor)
