from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import Principal, PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer import access
from crm_customer.batch import BatchRequest, BatchResult
from crm_customer.customers import batch as customer_batch
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import service as customer_service
from crm_customer.customers.batch import BatchMode
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
from crm_customer.db import Session
from crm_customer.deps import CustomerDep, SettingsDep
from crm_customer.erasure import service as erasure_service

router = APIRouter(prefix="/customers", tags=["customers"])
ReadT = TypeVar("ReadT", bound=BaseModel)


async def _read(session: Session, customer: Customer, response: Response, principal: Principal) -> CustomerRead:
    response.headers["ETag"] = etag_for(customer.version)
    (body,) = await customer_service.with_owner_names(session, [CustomerRead.model_validate(customer)])
    return masked(body, principal)


def masked(item: ReadT, principal: Principal) -> ReadT:
    """Personal fields blanked for callers not allowed to see them (partner keys without PII scope)."""
    return item.model_copy(update=access.PII_FIELDS) if access.masks_pii(principal) else item


@router.post(
    "",
    status_code=201,
    response_model=CustomerRead,
    summary="Create a customer",
    responses={
        200: {
            "model": CustomerRead,
            "description": "Created before under this external_ref with the same values; nothing new",
        }
    },
)
async def create_customer(
    body: CustomerCreate, session: SessionDep, settings: SettingsDep, principal: PrincipalDep, response: Response
) -> CustomerRead:
    customer, created = await customer_service.create(
        session, data=body, phone_region=settings.default_phone_region, principal=principal
    )
    response.headers["Location"] = f"/customers/{customer.id}"
    if not created:
        response.status_code = 200  # a repost of the partner's external_ref: nothing new
    return await _read(session, customer, response, principal)


@router.post(
    "/batch",
    response_model=BatchResult,
    summary="Create, or upsert by external_ref, up to 1,000 customers, each on its own (or all or none)",
    responses={
        409: {"description": "atomic=true and an item conflicts: nothing was written"},
        422: {"description": "atomic=true and an item is invalid: nothing was written"},
    },
)
async def record_customers(
    body: BatchRequest,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    mode: Annotated[BatchMode, Query(description="create each item, or update the one holding its external_ref")] = (
        BatchMode.create
    ),
    atomic: Annotated[bool, Query(description="apply every item or none")] = False,
) -> BatchResult:
    results = await customer_batch.record(
        session,
        items=body.items,
        mode=mode,
        atomic=atomic,
        phone_region=settings.default_phone_region,
        principal=principal,
    )
    return BatchResult(items=results)


@router.get("", response_model=Page[CustomerListItem], summary="List and search customers")
async def list_customers(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    filters: Annotated[CustomerFilters, Query()],
    sort: CustomerSort = CustomerSort.created_at,
) -> Page[CustomerListItem]:
    found = await customer_service.list_page(
        session, filters=filters, sort=sort, limit=page.limit, cursor=page.cursor, principal=principal
    )
    reasons = await customer_repo.key_reasons(session, [r.id for r in found.items]) if filters.key else {}
    items = await customer_service.with_owner_names(session, [CustomerListItem.model_validate(r) for r in found.items])
    return Page.model_construct(
        items=[masked(item, principal).model_copy(update={"key_reasons": reasons.get(item.id)}) for item in items],
        next_cursor=found.next_cursor,
        total=found.total,
    )


@router.get(
    "/{customer_id}",
    response_model=CustomerRead,
    summary="Read a customer",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
async def read_customer(
    customer: CustomerDep, request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> CustomerRead | Response:
    cached = not_modified(request, etag_for(customer.version))
    return cached if cached is not None else await _read(session, customer, response, principal)


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
    return await _read(session, updated, response, principal)


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
    return await _read(session, updated, response, principal)


@router.get("/{customer_id}/owner-history", response_model=Page[OwnerChangeRead], summary="Account manager history")
async def list_owner_history(customer: CustomerDep, session: SessionDep, page: PageDep) -> Page[OwnerChangeRead]:
    found = await customer_service.owner_history(session, customer_id=customer.id, limit=page.limit, cursor=page.cursor)
    return found.map(OwnerChangeRead.model_validate)


@router.get("/{customer_id}/history", response_model=Page[CustomerChangeRead], summary="Field-by-field audit history")
async def list_customer_history(
    customer: CustomerDep, session: SessionDep, page: PageDep, principal: PrincipalDep
) -> Page[CustomerChangeRead]:
    found = await customer_service.history_page(session, customer_id=customer.id, limit=page.limit, cursor=page.cursor)
    return found.map(lambda change: _masked_change(CustomerChangeRead.model_validate(change), principal))


def _masked_change(change: CustomerChangeRead, principal: Principal) -> CustomerChangeRead:
    """A history entry without the personal fields' values, for callers who may not see them."""
    if not access.masks_pii(principal):
        return change
    if change.field in access.PII_FIELDS:
        return change.model_copy(update={"old": None, "new": None})

    def blank(values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        return {name: access.PII_FIELDS.get(name, v) for name, v in values.items()}

    return change.model_copy(update={"old": blank(change.old), "new": blank(change.new)})


@router.get("/{customer_id}/referrals", response_model=ReferralPage, summary="Customers this customer brought")
async def list_referrals(
    customer: CustomerDep, session: SessionDep, page: PageDep, principal: PrincipalDep
) -> ReferralPage:
    count, found = await customer_service.referrals(
        session, customer_id=customer.id, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return ReferralPage(
        count=count, items=[ReferralRead.model_validate(r) for r in found.items], next_cursor=found.next_cursor
    )
