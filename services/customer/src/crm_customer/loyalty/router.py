from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, etag_of, not_modified, require_if_match
from crm_chassis.identity import PrincipalDep
from crm_chassis.openapi import header_parameter
from crm_chassis.pagination import Page, PageDep
from crm_customer.deps import CustomerDep
from crm_customer.loyalty import service as loyalty_service
from crm_customer.loyalty.models import CareBudget, Tier
from crm_customer.loyalty.schemas import (
    CareBudgetFilters,
    CareBudgetRead,
    CareBudgetReport,
    CareBudgetSet,
    CareClass,
    ConcessionCreate,
    ConcessionRead,
    CustomerTierRead,
    ManualTierSet,
    Period,
    PointsCreate,
    PointsEntryRead,
    PointsLedger,
    TierCreate,
    TierRead,
    TierSummary,
    TierUpdate,
)

router = APIRouter(tags=["points and concessions"])
PeriodPath = Annotated[Period, Path(description="a calendar month, YYYY-MM (1900-01 to 2199-12)")]


@router.post("/customers/{customer_id}/points", status_code=201, response_model=PointsEntryRead, summary="Earn, redeem")
async def post_points(
    customer: CustomerDep, body: PointsCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> PointsEntryRead:
    entry = await loyalty_service.post_points(session, customer=customer, data=body, principal=principal)
    response.headers["Location"] = f"/customers/{customer.id}/points"
    return PointsEntryRead.model_validate(entry)


@router.get("/customers/{customer_id}/points", response_model=PointsLedger, summary="Balance and ledger")
async def read_points(customer: CustomerDep, session: SessionDep, page: PageDep) -> PointsLedger:
    found = await loyalty_service.ledger_page(session, customer_id=customer.id, limit=page.limit, cursor=page.cursor)
    return PointsLedger(
        balance=await loyalty_service.balance(session, customer.id),
        items=[PointsEntryRead.model_validate(r) for r in found.items],
        next_cursor=found.next_cursor,
        total=found.total,
    )


@router.post("/customers/{customer_id}/concessions", status_code=201, response_model=ConcessionRead, summary="Grant")
async def grant_concession(
    customer: CustomerDep, body: ConcessionCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> ConcessionRead:
    concession = await loyalty_service.grant_concession(session, customer=customer, data=body, principal=principal)
    response.headers["Location"] = f"/customers/{customer.id}/concessions"
    return ConcessionRead.model_validate(concession)


@router.get("/customers/{customer_id}/concessions", response_model=Page[ConcessionRead], summary="Concessions")
async def list_concessions(customer: CustomerDep, session: SessionDep, page: PageDep) -> Page[ConcessionRead]:
    found = await loyalty_service.concessions_page(
        session, customer_id=customer.id, limit=page.limit, cursor=page.cursor
    )
    return found.map(ConcessionRead.model_validate)


# Membership tiers


async def valid_tier(tier_id: uuid.UUID, session: SessionDep) -> Tier:
    return await loyalty_service.get_tier(session, tier_id)


TierDep = Annotated[Tier, Depends(valid_tier)]


def _tier(tier: Tier, response: Response) -> TierRead:
    response.headers["ETag"] = etag_for(tier.version)
    return TierRead.model_validate(tier)


@router.get("/loyalty/tiers", response_model=Page[TierRead], tags=["membership tiers"], summary="Tiers, lowest first")
async def list_tiers(session: SessionDep, page: PageDep) -> Page[TierRead]:
    found = await loyalty_service.tiers_page(session, limit=page.limit, cursor=page.cursor)
    return found.map(TierRead.model_validate)


@router.post(
    "/loyalty/tiers", status_code=201, response_model=TierRead, tags=["membership tiers"], summary="Add a tier (admin)"
)
async def create_tier(body: TierCreate, session: SessionDep, principal: PrincipalDep, response: Response) -> TierRead:
    tier = await loyalty_service.create_tier(session, data=body, principal=principal)
    response.headers["Location"] = f"/loyalty/tiers/{tier.id}"
    return _tier(tier, response)


@router.get(
    "/loyalty/tiers/{tier_id}",
    response_model=TierRead,
    tags=["membership tiers"],
    summary="Read a tier",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
async def read_tier(tier: TierDep, request: Request, response: Response) -> TierRead | Response:
    cached = not_modified(request, etag_for(tier.version))
    return cached if cached is not None else _tier(tier, response)


@router.patch(
    "/loyalty/tiers/{tier_id}", response_model=TierRead, tags=["membership tiers"], summary="Change a tier (If-Match)"
)
async def update_tier(
    tier: TierDep, body: TierUpdate, request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> TierRead:
    require_if_match(request, etag_for(tier.version))
    return _tier(await loyalty_service.update_tier(session, tier=tier, data=body, principal=principal), response)


@router.delete(
    "/loyalty/tiers/{tier_id}", status_code=204, tags=["membership tiers"], summary="Remove a tier (If-Match)"
)
async def delete_tier(tier: TierDep, request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    require_if_match(request, etag_for(tier.version))
    await loyalty_service.delete_tier(session, tier=tier, principal=principal)
    return Response(status_code=204)


def _customer_tier(found: loyalty_service.CustomerTier) -> CustomerTierRead:
    def summary(tier: Tier | None) -> TierSummary | None:
        return None if tier is None else TierSummary.model_validate(tier)

    manual = found.manual
    return CustomerTierRead(
        customer_id=found.customer_id,
        balance=found.balance,
        tier=summary(found.tier),
        source=found.source,
        points_tier=summary(found.points_tier),
        next_tier=summary(found.next_tier),
        # A tier set by hand is not moved by the points: no count of points leads to the next one.
        points_to_next=None
        if found.next_tier is None or manual is not None
        else found.next_tier.threshold - found.balance,
        set_by=manual.set_by if manual else None,
        set_at=manual.set_at if manual else None,
        reason=manual.reason if manual else None,
    )


@router.get(
    "/customers/{customer_id}/tier",
    response_model=CustomerTierRead,
    tags=["membership tiers"],
    summary="The customer's tier: by points, or set by hand",
)
async def read_customer_tier(
    customer: CustomerDep, session: SessionDep, request: Request, response: Response
) -> CustomerTierRead | Response:
    current = _customer_tier(await loyalty_service.customer_tier(session, customer.id))
    # no one row holds the tier (the points ledger and a hand-set tier both decide it): the ETag is
    # the representation's own, so a write after any change to either is refused as stale
    cached = not_modified(request, etag_of(current))
    if cached is not None:
        return cached
    response.headers["ETag"] = etag_of(current)
    return current


async def _current_tag(session: SessionDep, customer_id: uuid.UUID) -> str:
    return etag_of(_customer_tier(await loyalty_service.customer_tier(session, customer_id)))


@router.put(
    "/customers/{customer_id}/tier",
    response_model=CustomerTierRead,
    tags=["membership tiers"],
    summary="Set the customer's tier by hand (manager, admin; If-Match)",
)
async def set_customer_tier(
    customer: CustomerDep,
    body: ManualTierSet,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
) -> CustomerTierRead:
    loyalty_service.require_lead(principal)
    require_if_match(request, await _current_tag(session, customer.id))
    found = _customer_tier(
        await loyalty_service.set_manual_tier(session, customer=customer, data=body, principal=principal)
    )
    response.headers["ETag"] = etag_of(found)
    return found


@router.delete(
    "/customers/{customer_id}/tier",
    response_model=CustomerTierRead,
    tags=["membership tiers"],
    summary="Clear the tier set by hand: the points decide again (manager, admin; If-Match)",
)
async def clear_customer_tier(
    customer: CustomerDep, session: SessionDep, principal: PrincipalDep, request: Request, response: Response
) -> CustomerTierRead:
    loyalty_service.require_lead(principal)
    require_if_match(request, await _current_tag(session, customer.id))
    found = _customer_tier(await loyalty_service.clear_manual_tier(session, customer=customer, principal=principal))
    response.headers["ETag"] = etag_of(found)
    return found


# Care budgets


def _budget(budget: CareBudget, response: Response) -> CareBudgetRead:
    response.headers["ETag"] = etag_for(budget.version)
    return CareBudgetRead.model_validate(budget)


@router.get("/loyalty/care-budgets", response_model=Page[CareBudgetRead], tags=["care budgets"], summary="Care budgets")
async def list_care_budgets(
    session: SessionDep, page: PageDep, filters: Annotated[CareBudgetFilters, Query()]
) -> Page[CareBudgetRead]:
    found = await loyalty_service.budgets_page(
        session, period=filters.period, care_class=filters.care_class, limit=page.limit, cursor=page.cursor
    )
    return found.map(CareBudgetRead.model_validate)


@router.get(
    "/loyalty/care-budgets/{period}/{care_class}",
    response_model=CareBudgetRead,
    tags=["care budgets"],
    summary="One class's care budget for a month",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
async def read_care_budget(
    period: PeriodPath, care_class: CareClass, session: SessionDep, request: Request, response: Response
) -> CareBudgetRead | Response:
    budget = await loyalty_service.get_budget(session, care_class, period)
    cached = not_modified(request, etag_for(budget.version))
    return cached if cached is not None else _budget(budget, response)


@router.put(
    "/loyalty/care-budgets/{period}/{care_class}",
    response_model=CareBudgetRead,
    tags=["care budgets"],
    summary="Set a class's care budget for a month (admin; If-Match to replace one)",
    responses={
        201: {"model": CareBudgetRead, "description": "A new budget line: no If-Match needed"},
        412: {"description": "The budget exists and If-Match does not name its current version"},
        428: {"description": "The budget exists: replacing it needs If-Match with its ETag"},
    },
    # Declared here, not required: a new line is set without one (the chassis marks If-Match required
    # on routes that always need it).
    openapi_extra={
        "parameters": [
            header_parameter(
                "If-Match", "The ETag of the budget this replaces; needed only when one is set for the month."
            )
        ]
    },
)
async def set_care_budget(
    period: PeriodPath,
    care_class: CareClass,
    body: CareBudgetSet,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
) -> CareBudgetRead:
    budget, created = await loyalty_service.set_budget(
        session,
        care_class=care_class,
        period=period,
        data=body,
        principal=principal,
        if_match=lambda version: require_if_match(request, etag_for(version)),
    )
    if created:
        response.status_code = 201
        response.headers["Location"] = f"/loyalty/care-budgets/{period}/{care_class}"
    return _budget(budget, response)


@router.delete(
    "/loyalty/care-budgets/{period}/{care_class}",
    status_code=204,
    tags=["care budgets"],
    summary="Remove a care budget (admin, If-Match): its grants stay, as unbudgeted spending",
)
async def delete_care_budget(
    period: PeriodPath, care_class: CareClass, session: SessionDep, principal: PrincipalDep, request: Request
) -> Response:
    budget = await loyalty_service.get_budget(session, care_class, period)
    require_if_match(request, etag_for(budget.version))
    await loyalty_service.delete_budget(session, budget=budget, principal=principal)
    return Response(status_code=204)


@router.get(
    "/analytics/care-budget",
    response_model=CareBudgetReport,
    tags=["care budgets"],
    summary="Care spending per ABC class in a month: budget, spent, remaining, grants, overspend",
)
async def care_budget_report(
    period: Annotated[Period, Query(description="a calendar month, YYYY-MM (1900-01 to 2199-12)")],
    session: SessionDep,
) -> CareBudgetReport:
    return await loyalty_service.care_budget_report(session, period)
