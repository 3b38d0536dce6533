from __future__ import annotations

from fastapi import APIRouter, Response

from crm_chassis.db import SessionDep
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer.deps import CustomerDep
from crm_customer.loyalty import service as loyalty_service
from crm_customer.loyalty.schemas import (
    ConcessionCreate,
    ConcessionRead,
    PointsCreate,
    PointsEntryRead,
    PointsLedger,
)

router = APIRouter(tags=["points and concessions"])


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
