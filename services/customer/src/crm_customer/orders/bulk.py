"""Many purchases at once, for `POST /orders/batch` and the orders import alike.

The purchases are checked by the rules of `order_service.record`, with one query per rule for all
of them instead of one per purchase: the customer must exist, be live and be visible to the
caller; a reference (source, external_ref) recorded before is a repost, `existing` if it repeats
the stored order and `conflict` if it differs. The new ones are written with one multi-row insert
of orders and one of their `order.recorded` events. If that insert still hits a constraint (a
concurrent writer took a reference meanwhile), they are redone one by one through
`order_service.record`, each in its own savepoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from crm_chassis.db import utcnow
from crm_chassis.errors import Unprocessable
from crm_chassis.identity import Principal
from crm_customer import batch, events
from crm_customer.campaigns import repository as campaign_repo
from crm_customer.customers import repository as customer_repo
from crm_customer.db import IntegrityError, Session, savepoint
from crm_customer.orders import repository as order_repo
from crm_customer.orders import service as order_service
from crm_customer.orders.models import Order
from crm_customer.orders.schemas import OrderCreate

Outcome = batch.Outcome


async def record(session: Session, orders: Sequence[OrderCreate], principal: Principal) -> list[Outcome]:
    """The outcome of each purchase, in order; the new ones are written in the caller's transaction."""
    ids = {o.customer_id for o in orders if o.customer_id is not None}
    refs = {o.customer_external_ref for o in orders if o.customer_external_ref is not None}
    live_ids = await customer_repo.visible_live_ids(session, ids, principal) if ids else set()
    by_ref = await customer_repo.visible_live_ids_by_external_ref(session, refs, principal) if refs else {}
    stored = await _stored(session, orders)
    named = {o.campaign_id for o in orders if o.campaign_id is not None}
    campaigns = await campaign_repo.exists(session, named) if named else set()
    outcomes: list[Outcome | None] = [None] * len(orders)
    pending: list[int] = []
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for i, data in enumerate(orders):
        customer_id = data.customer_id if data.customer_id in live_ids else by_ref.get(data.customer_external_ref or "")
        key = (data.source, data.external_ref)
        if data.external_ref is not None and key in stored:
            differing = order_service.differences(stored[key], data, customer_id)
            if differing:
                outcomes[i] = Outcome(error=order_service.repost_conflict(data.source, data.external_ref, differing))
            else:
                outcomes[i] = Outcome(id=stored[key].id)
            continue
        if customer_id is None:
            outcomes[i] = Outcome(error=_unknown_customer(data))
            continue
        if data.campaign_id is not None and data.campaign_id not in campaigns:
            outcomes[i] = Outcome(error=order_service.unknown_campaign(data.campaign_id))
            continue
        row = _row(data, customer_id, now)
        if data.external_ref is not None:
            stored[key] = SimpleNamespace(**row)  # a repost later in the same call meets this one
        pending.append(i)
        rows.append(row)
    if rows:
        try:
            async with savepoint(session):
                await _write(session, rows)
        except IntegrityError:
            for i in pending:
                outcomes[i] = await _one(session, orders[i], principal)
        else:
            for i, row in zip(pending, rows, strict=True):
                outcomes[i] = Outcome(created=True, id=row["id"])
    return [cast(Outcome, o) for o in outcomes]


def _unknown_customer(data: OrderCreate) -> Unprocessable:
    if data.customer_id is not None:
        return Unprocessable.field("customer_id", "unknown_customer", f"no customer {data.customer_id}")
    message = f"no customer with external_ref {data.customer_external_ref!r}"
    return Unprocessable.field("customer_external_ref", "unknown_customer", message)


async def _stored(session: Session, orders: Sequence[OrderCreate]) -> dict[tuple[str, str | None], Any]:
    by_source: dict[str, set[str]] = {}
    for o in orders:
        if o.external_ref is not None:
            by_source.setdefault(o.source, set()).add(o.external_ref)
    found: dict[tuple[str, str | None], Any] = {}
    for source, refs in by_source.items():
        found |= {(source, ref): row for ref, row in (await order_repo.recorded_under(session, source, refs)).items()}
    return found


def _row(data: OrderCreate, customer_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The order's row exactly as `order_service.record` builds it (a dict: ORM objects cost 10x)."""
    base = {"id": uuid.uuid4(), "customer_id": customer_id, "created_at": now, "updated_at": now}
    base |= {"deleted_at": None, "refund_of": None, "reason": None, "version": 1}
    return base | order_service.purchase_values(data)


def _event_data(row: dict[str, Any]) -> dict[str, Any]:
    # event_data only reads attributes, so the row stands in for the Order it describes.
    return order_service.event_data(cast(Order, SimpleNamespace(**row)))


async def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    """The orders and their `order.recorded` events, each with one bulk insert."""
    await order_repo.insert_many(session, rows)
    await events.publish_many(session, events.ORDER_RECORDED, [(row["id"], _event_data(row), 1) for row in rows])


async def _one(session: Session, data: OrderCreate, principal: Principal) -> Outcome:
    return await batch.one_by_one(session, lambda: order_service.record(session, data=data, principal=principal))
