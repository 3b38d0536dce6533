from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import Principal, PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer import access
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import service as customer_service
from crm_customer.customers.models import Customer
from crm_customer.customers.schemas import (
    CustomerChangeRead,
    CustomerCreate,
    CustomerFilters,
    CustomerListItem,
    CustomerRead,
    CustomerSort,
    CustomerUpdate,
    OwnerChangeCreate,
    OwnerChangeRead,
    ReferralPage,
    ReferralRead,
)
from crm_customer.deps import CustomerDep, SettingsDep
from crm_customer.erasure import service as erasure_service

router = APIRouter(prefix="/customers", tags=["customers"])
ReadT = TypeVar("ReadT", bound=BaseModel)


def _read(customer: Customer, response: Response, principal: Principal) -> CustomerRead:
    response.headers["ETag"] = etag_for(customer.version)
    return masked(CustomerRead.model_validate(customer), principal)


def masked(item: ReadT, principal: Principal) -> ReadT:
    """Personal fields blanked for callers not allowed to see them (partner keys without PII scope)."""
    return item.model_copy(update=access.PII_FIELDS) if access.masks_pii(principal) else item


@router.post("", status_code=201, response_model=CustomerRead, summary="Create a customer")
async def create_customer(
    body: CustomerCreate, session: SessionDep, settings: SettingsDep, principal: PrincipalDep, response: Response
) -> CustomerRead:
    customer = await customer_service.create(
        session, data=body, phone_region=settings.default_phone_region, principal=principal
    )
    response.headers["Location"] = f"/customers/{customer.id}"
    return _read(customer, response, principal)


@router.get("", response_model=Page[CustomerListItem], summary="List and search customers")
async def list_customers(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    filters: Annotated[CustomerFilters, Query()],
    sort: CustomerSort = CustomerSort.created_at,
) -> Page[CustomerListItem]:
    rows, next_cursor = await customer_service.list_page(
        session, filters=filters, sort=sort, limit=page.limit, cursor=page.cursor, principal=principal
    )
    reasons = await customer_repo.key_reasons(session, [r.id for r in rows]) if filters.key else {}
    items = [
        masked(CustomerListItem.model_validate(r), principal).model_copy(update={"key_reasons": reasons.get(r.id)})
        for r in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{customer_id}",
    response_model=CustomerRead,
    summary="Read a customer",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
async def read_customer(
    customer: CustomerDep, request: Request, response: Response, principal: PrincipalDep
) -> CustomerRead | Response:
    cached = not_modified(request, etag_for(customer.version))
    return cached if cached is not None else _read(customer, response, principal)


@router.patch("/{customer_id}", response_model=CustomerRead, summary="Change a customer (If-Match required)")
async def update_customer(
    customer: CustomerDep,
    body: CustomerUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> CustomerRead:
    require_if_match(request, etag_for(customer.version))
    updated = await customer_service.update(
        session, customer=customer, data=body, phone_region=settings.default_phone_region, principal=principal
    )
    return _read(updated, response, principal)


@router.delete("/{customer_id}", status_code=204, summary="Soft-delete a customer (If-Match required)")
async def delete_customer(
    customer: CustomerDep,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    erase: Annotated[bool, Query(description="erase personal data in every service (admin only)")] = False,
) -> Response:
    require_if_match(request, etag_for(customer.version))
    if erase:
        await erasure_service.erase(session, customer=customer, principal=principal)
        return Response(status_code=204)
    await customer_service.delete(session, customer=customer, principal=principal)
    return Response(status_code=204)


@router.post("/{customer_id}/owner", response_model=CustomerRead, summary="Reassign the account manager")
async def reassign_owner(
    customer: CustomerDep,
    body: OwnerChangeCreate,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> CustomerRead:
    updated = await customer_service.reassign(
        session, customer=customer, data=body, principal=principal, phone_region=settings.default_phone_region
    )
    return _read(updated, response, principal)


@router.get("/{customer_id}/owner-history", response_model=list[OwnerChangeRead], summary="Account manager history")
async def owner_history(customer: CustomerDep, session: SessionDep) -> list[OwnerChangeRead]:
    rows = await customer_service.owner_history(session, customer_id=customer.id)
    return [OwnerChangeRead.model_validate(r) for r in rows]


@router.get("/{customer_id}/history", response_model=Page[CustomerChangeRead], summary="Field-by-field audit history")
async def history(customer: CustomerDep, session: SessionDep, page: PageDep) -> Page[CustomerChangeRead]:
    rows, cursor = await customer_service.history_page(
        session, customer_id=customer.id, limit=page.limit, cursor=page.cursor
    )
    return Page(items=[CustomerChangeRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/{customer_id}/referrals", response_model=ReferralPage, summary="Customers this customer brought")
async def referrals(customer: CustomerDep, session: SessionDep, page: PageDep) -> ReferralPage:
    count, rows, cursor = await customer_service.referrals(
        session, customer_id=customer.id, limit=page.limit, cursor=page.cursor
    )
    return ReferralPage(count=count, items=[ReferralRead.model_validate(r) for r in rows], next_cursor=cursor)
