from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer.batch import BatchRequest, BatchResult
from crm_customer.deps import CustomerDep
from crm_customer.orders import batch as order_batch
from crm_customer.orders import service as order_service
from crm_customer.orders.models import Order
from crm_customer.orders.schemas import OrderCreate, OrderFilters, OrderRead, OrderUpdate, RefundCreate

router = APIRouter(tags=["orders"])


async def valid_order(order_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Order:
    return await order_service.get(session, order_id=order_id, principal=principal)


OrderDep = Annotated[Order, Depends(valid_order)]


def _read(order: Order, response: Response, *, created: bool = False) -> OrderRead:
    response.headers["ETag"] = etag_for(order.version)
    response.headers["Location"] = f"/orders/{order.id}"
    if not created:
        response.status_code = 200
    return OrderRead.model_validate(order)


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderRead,
    summary="Record a purchase",
    responses={
        200: {"model": OrderRead, "description": "Recorded before under this (source, external_ref); nothing new"}
    },
)
async def record_order(
    body: OrderCreate, session: SessionDep, response: Response, principal: PrincipalDep
) -> OrderRead:
    order, created = await order_service.record(session, data=body, principal=principal)
    return _read(order, response, created=created)


@router.post(
    "/orders/batch",
    response_model=BatchResult,
    summary="Record up to 1,000 purchases and refunds, each on its own (or all or none with atomic=true)",
    responses={
        409: {"description": "atomic=true and an item conflicts"},
        422: {"description": "atomic=true and an item is invalid"},
    },
)
async def record_orders(
    body: BatchRequest,
    session: SessionDep,
    principal: PrincipalDep,
    atomic: Annotated[bool, Query(description="apply every item or none")] = False,
) -> BatchResult:
    results = await order_batch.record(session, items=body.items, principal=principal, atomic=atomic)
    return BatchResult(items=results)


@router.get("/orders", response_model=Page[OrderRead], summary="List orders and refunds, newest first")
async def list_orders(
    session: SessionDep, page: PageDep, filters: Annotated[OrderFilters, Query()], principal: PrincipalDep
) -> Page[OrderRead]:
    found = await order_service.list_page(
        session, filters=filters, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return found.map(OrderRead.model_validate)


@router.get("/customers/{customer_id}/orders", response_model=Page[OrderRead], summary="A customer's orders")
async def list_customer_orders(
    customer: CustomerDep,
    session: SessionDep,
    page: PageDep,
    filters: Annotated[OrderFilters, Query()],
    principal: PrincipalDep,
) -> Page[OrderRead]:
    filters = filters.model_copy(update={"customer_id": customer.id})
    found = await order_service.list_page(
        session, filters=filters, limit=page.limit, cursor=page.cursor, principal=principal
    )
    return found.map(OrderRead.model_validate)


@router.get("/orders/{order_id}", response_model=OrderRead, summary="Read an order")
async def read_order(order: OrderDep, request: Request, response: Response) -> OrderRead | Response:
    cached = not_modified(request, etag_for(order.version))
    return cached if cached is not None else _read(order, response)


@router.post("/orders/{order_id}/refunds", status_code=201, response_model=OrderRead, summary="Refund an order")
async def refund_order(
    order_id: uuid.UUID, body: RefundCreate, session: SessionDep, response: Response, principal: PrincipalDep
) -> OrderRead:
    refund, created = await order_service.refund(session, order_id=order_id, data=body, principal=principal)
    return _read(refund, response, created=created)


@router.patch("/orders/{order_id}", response_model=OrderRead, summary="Correct an order (If-Match required)")
async def update_order(
    order: OrderDep, body: OrderUpdate, request: Request, response: Response, session: SessionDep
) -> OrderRead:
    require_if_match(request, etag_for(order.version))
    return _read(await order_service.update(session, order=order, data=body), response)


@router.delete("/orders/{order_id}", status_code=204, summary="Soft-delete an order (If-Match required)")
async def delete_order(order: OrderDep, request: Request, session: SessionDep) -> Response:
    require_if_match(request, etag_for(order.version))
    await order_service.delete(session, order=order)
    return Response(status_code=204)
