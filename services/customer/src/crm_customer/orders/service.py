"""Purchases and refunds: recorded once per partner reference, refunds never above what was paid."""

from __future__ import annotations

import uuid
from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_chassis.patching import changes_of
from crm_customer import access, events
from crm_customer.campaigns import repository as campaign_repo
from crm_customer.customers import repository as customer_repo
from crm_customer.db import Session
from crm_customer.orders import repository as order_repo
from crm_customer.orders.models import Order
from crm_customer.orders.schemas import OrderCreate, OrderFilters, OrderUpdate, RefundCreate


def event_data(order: Order) -> dict[str, Any]:
    return {
        "id": str(order.id),
        "customer_id": str(order.customer_id),
        "external_ref": order.external_ref,
        "source": order.source,
        "occurred_at": order.occurred_at.isoformat(),
        "amount": str(order.amount),
        "currency": order.currency,
        "margin": None if order.margin is None else str(order.margin),
        "quantity": order.quantity,
        "channel": order.channel,
        "refund_of": None if order.refund_of is None else str(order.refund_of),
        "campaign_id": None if order.campaign_id is None else str(order.campaign_id),
    }


def purchase_values(data: OrderCreate) -> dict[str, Any]:
    """The columns a purchase is stored with, from the request (as `record` stores them)."""
    values = data.model_dump(mode="python", exclude={"customer_id", "customer_external_ref", "items"})
    values["items"] = [item.model_dump(mode="json", exclude_none=True) for item in data.items]
    return values


def differences(stored: Any, data: OrderCreate, customer_id: uuid.UUID | None) -> list[str]:
    """The fields in which a repost differs from the order stored under its external_ref.

    `stored` is an order or a row with its columns; `customer_id` is the customer the repost
    names, None when it names none the caller can see.
    """
    sent = purchase_values(data)
    differing = [name for name in order_repo.COMPARED if sent[name] != getattr(stored, name)]
    if customer_id != stored.customer_id:
        differing.insert(0, "customer_id" if data.customer_id is not None else "customer_external_ref")
    if stored.refund_of is not None:
        differing.append("refund_of")  # the reference names a refund, not a purchase
    return differing


def repost_conflict(source: str, external_ref: str, differing: list[str]) -> Conflict:
    return Conflict(
        f"an order was recorded under ({source!r}, {external_ref!r}) with other values: {', '.join(differing)}",
        code="external_ref_conflict",
        differing=differing,
    )


def unknown_campaign(campaign_id: uuid.UUID) -> Unprocessable:
    return Unprocessable.field("campaign_id", "unknown_campaign", f"no campaign {campaign_id}")


async def resolve_customer(session: Session, customer_id: uuid.UUID | None, external_ref: str | None) -> uuid.UUID:
    """The live customer an order names, by id or by the partner's reference; 422 if none."""
    if customer_id is not None:
        if await customer_repo.exists_active(session, customer_id):
            return customer_id
        field, message = "customer_id", f"no customer {customer_id}"
    else:
        assert external_ref is not None
        found = await customer_repo.id_by_external_ref(session, external_ref)
        if found is not None and await customer_repo.exists_active(session, found):
            return found
        field, message = "customer_external_ref", f"no customer with external_ref {external_ref!r}"
    raise Unprocessable.field(field, "unknown_customer", message)


async def record(session: Session, *, data: OrderCreate, principal: Principal | None = None) -> tuple[Order, bool]:
    """The recorded order and whether it is new. A known (source, external_ref) returns the first
    order if the request repeats it, and is 409 `external_ref_conflict` if it does not.

    `principal` None is a trusted internal caller (an import job already checked its creator).
    """
    existing = None
    if data.external_ref is not None:
        existing = await order_repo.by_external_ref(session, data.source, data.external_ref)
    try:
        customer_id = await resolve_customer(session, data.customer_id, data.customer_external_ref)
        if principal is not None and not access.can_see(principal, await customer_repo.owner_of(session, customer_id)):
            raise Unprocessable.field("customer_id", "unknown_customer", f"no customer {customer_id}")
    except Unprocessable:
        if existing is None:
            raise
        customer_id = None
    if existing is not None:
        assert data.external_ref is not None
        differing = differences(existing, data, customer_id)
        if differing:
            raise repost_conflict(data.source, data.external_ref, differing)
        return existing, False
    assert customer_id is not None
    if data.campaign_id is not None and not await campaign_repo.exists(session, {data.campaign_id}):
        raise unknown_campaign(data.campaign_id)
    now = utcnow()
    order = Order(id=uuid.uuid4(), customer_id=customer_id, created_at=now, updated_at=now, **purchase_values(data))
    session.add(order)
    await session.flush()
    await events.publish(session, events.ORDER_RECORDED, order.id, event_data(order), order.version)
    return order, True


async def get(session: Session, *, order_id: uuid.UUID, principal: Principal, for_update: bool = False) -> Order:
    order = await order_repo.get(session, order_id, for_update=for_update)
    if order is None:
        raise NotFound(f"order {order_id} does not exist", code="order_not_found")
    await access.require_visible_customer(session, principal, order.customer_id, f"order {order_id}")
    return order


async def refund(
    session: Session, *, order_id: uuid.UUID, data: RefundCreate, principal: Principal
) -> tuple[Order, bool]:
    """A negative order linked to the purchase; refunds in all may not exceed what was paid."""
    original = await get(
        session, order_id=order_id, principal=principal, for_update=True
    )  # serialises concurrent refunds
    if original.refund_of is not None:
        raise Conflict("a refund cannot itself be refunded", code="refund_of_refund")
    source = original.source
    if data.external_ref is not None:
        existing = await order_repo.by_external_ref(session, source, data.external_ref)
        if existing is not None:
            sent = {"refund_of": original.id, "amount": -data.amount, "occurred_at": data.occurred_at}
            sent |= {"quantity": data.quantity, "reason": data.reason}
            differing = [name for name, value in sent.items() if getattr(existing, name) != value]
            if differing:
                raise repost_conflict(source, data.external_ref, differing)
            return existing, False
    already = await order_repo.refunded_total(session, original.id)
    if already + data.amount > original.amount:
        raise Conflict(
            f"refunds would total {already + data.amount}, more than the {original.amount} paid",
            code="refund_exceeds_amount",
            refundable=str(original.amount - already),
        )
    if data.occurred_at < original.occurred_at:
        raise Unprocessable(
            "a refund cannot precede its purchase",
            errors=[{"field": "occurred_at", "code": "before_purchase", "message": "earlier than the purchase"}],
        )
    now = utcnow()
    refund_order = Order(
        id=uuid.uuid4(),
        customer_id=original.customer_id,
        source=source,
        external_ref=data.external_ref,
        occurred_at=data.occurred_at,
        amount=-data.amount,
        currency=original.currency,
        margin=None,
        quantity=data.quantity,
        channel=original.channel,
        location=original.location,
        items=[],
        refund_of=original.id,
        reason=data.reason,
        campaign_id=original.campaign_id,
        created_at=now,
        updated_at=now,
    )
    session.add(refund_order)
    await session.flush()
    await events.publish(session, events.ORDER_REFUNDED, refund_order.id, event_data(refund_order), 1)
    return refund_order, True


async def update(session: Session, *, order: Order, data: OrderUpdate) -> Order:
    changes = changes_of(data)
    if "items" in changes:
        changes["items"] = [i.model_dump(mode="json", exclude_none=True) for i in data.items or []]
    if changes.get("margin") is not None and changes["margin"] > abs(order.amount):
        raise Unprocessable.field("margin", "too_large", "margin cannot exceed the amount")
    for name, value in changes.items():
        setattr(order, name, value)
    order.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.ORDER_UPDATED, order.id, event_data(order), order.version)
    return order


async def delete(session: Session, *, order: Order) -> None:
    order.deleted_at = order.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.ORDER_DELETED, order.id, event_data(order), order.version)


async def list_page(
    session: Session, *, filters: OrderFilters, limit: int, cursor: str | None, principal: Principal
) -> Page[Order]:
    return await order_repo.list_page(session, filters, limit, cursor, principal)
