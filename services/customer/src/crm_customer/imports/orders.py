"""Orders, the bulk path: a chunk is validated row by row, then written with multi-row inserts.

Rows are checked with the API's `OrderCreate` and the rules of `order_service.record` (a known
(source, external_ref) is a repost and creates nothing; the customer must exist and be live), but
with one query per chunk for each rule instead of one per row. If the chunk's insert still hits a
constraint (a concurrent writer), the chunk is redone row by row through `order_service.record`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, and_, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.errors import AppError
from crm_chassis.identity import Principal
from crm_customer import access, events
from crm_customer.customers.models import Customer
from crm_customer.db import infra
from crm_customer.imports.columns import KindSpec, row_values
from crm_customer.imports.context import ImportContext
from crm_customer.imports.outcome import ChunkOutcome, Row, from_app_error, from_validation, one_of, savepoint
from crm_customer.orders import service as order_service
from crm_customer.orders.models import Order
from crm_customer.orders.schemas import OrderCreate, OrderRead

SPEC = KindSpec(
    model=OrderCreate,
    read_model=OrderRead,
    natural_key="(source, external_ref): an order already recorded is skipped",
    one_of=(frozenset({"customer_id", "customer_external_ref"}),),
)


async def _live_customers(
    session: AsyncSession, orders: list[OrderCreate], principal: Principal
) -> tuple[set[uuid.UUID], dict[str, Any]]:
    """The named customers that exist, are live and that the caller may see (others are unknown)."""
    ids = {o.customer_id for o in orders if o.customer_id is not None}
    refs = {o.customer_external_ref for o in orders if o.customer_external_ref is not None}
    live = and_(Customer.deleted_at.is_(None), access.owner_clause(principal, Customer.owner_id))
    found_ids: set[uuid.UUID] = set()
    if ids:
        found_ids = set((await session.scalars(select(Customer.id).where(one_of(Customer.id, ids), live))).all())
    by_ref: dict[str, Any] = {}
    if refs:
        rows = await session.execute(
            select(Customer.external_ref, Customer.id).where(one_of(Customer.external_ref, refs), live)
        )
        by_ref = {ref: customer_id for ref, customer_id in rows.all() if ref is not None}
    return found_ids, by_ref


async def _recorded(session: AsyncSession, orders: list[OrderCreate]) -> set[tuple[str, str]]:
    by_source: dict[str, set[str]] = {}
    for o in orders:
        if o.external_ref is not None:
            by_source.setdefault(o.source, set()).add(o.external_ref)
    known: set[tuple[str, str]] = set()
    for source, refs in by_source.items():
        stmt = select(Order.external_ref).where(Order.source == source, one_of(Order.external_ref, refs))
        known |= {(source, ref) for ref in (await session.scalars(stmt)).all() if ref is not None}
    return known


def _order(data: OrderCreate, customer_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The order's row exactly as `order_service.record` builds it (a dict: ORM objects cost 10x)."""
    return {
        "id": uuid.uuid4(),
        "customer_id": customer_id,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
        "refund_of": None,
        "reason": None,
        "version": 1,
        **data.model_dump(mode="python", exclude={"customer_id", "customer_external_ref", "items"}),
        "items": [item.model_dump(mode="json", exclude_none=True) for item in data.items],
    }


def _event_data(row: dict[str, Any]) -> dict[str, Any]:
    # event_data only reads attributes, so the row stands in for the Order it describes.
    return order_service.event_data(cast(Order, SimpleNamespace(**row)))


async def _write(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """The orders and their `order.recorded` events, each with one multi-row insert."""
    await session.execute(insert(cast(Table, Order.__table__)), rows)  # Core executemany: no per-row ORM work
    first, *rest = rows
    # The first event goes through the outbox's own writer: it takes the outbox ordering lock and
    # arms the feed's wake-up for this transaction; the rest follow in the same transaction.
    await events.publish(session, events.ORDER_RECORDED, first["id"], _event_data(first), 1)
    if rest:
        now = utcnow()
        events_rows = [
            {
                "id": uuid.uuid4(),
                "type": events.ORDER_RECORDED,
                "aggregate_id": str(row["id"]),
                "version": 1,
                "occurred_at": now,
                "data": _event_data(row),
            }
            for row in rest
        ]
        await session.execute(insert(infra.outbox), events_rows)


async def _one_by_one(
    session: AsyncSession, pending: list[tuple[int, OrderCreate]], principal: Principal, out: ChunkOutcome
) -> None:
    for number, data in pending:
        try:
            async with savepoint(session):
                _, created = await order_service.record(session, data=data, principal=principal)
        except AppError as exc:
            out.fail(number, from_app_error(exc))
        except IntegrityError:
            out.fail(number, [("", "the row conflicts with data written meanwhile; import it again")])
        else:
            out.created += created
            out.skipped += not created


async def process(session: AsyncSession, columns: list[str], rows: list[Row], ctx: ImportContext) -> ChunkOutcome:
    out = ChunkOutcome()
    parsed: list[tuple[int, OrderCreate]] = []
    for number, cells in rows:
        values, problems = row_values(SPEC, columns, cells)
        if problems:
            out.fail(number, problems)
            continue
        try:
            parsed.append((number, OrderCreate.model_validate(values)))
        except ValidationError as exc:
            out.fail(number, from_validation(exc))
    orders = [data for _, data in parsed]
    live_ids, by_ref = await _live_customers(session, orders, ctx.principal)
    recorded = await _recorded(session, orders)
    pending: list[tuple[int, OrderCreate]] = []
    built: list[dict[str, Any]] = []
    now = utcnow()
    for number, data in parsed:
        if data.external_ref is not None and (data.source, data.external_ref) in recorded:
            out.skipped += 1
            continue
        if data.customer_id is not None:
            if data.customer_id not in live_ids:
                out.fail(number, [("customer_id", f"no customer {data.customer_id}")])
                continue
            customer_id = data.customer_id
        else:
            if data.customer_external_ref not in by_ref:
                ref = data.customer_external_ref
                out.fail(number, [("customer_external_ref", f"no customer with external_ref {ref!r}")])
                continue
            customer_id = by_ref[data.customer_external_ref]
        if data.external_ref is not None:
            recorded.add((data.source, data.external_ref))  # a repost later in the same file is skipped
        pending.append((number, data))
        built.append(_order(data, customer_id, now))
    if not built:
        return out
    try:
        async with savepoint(session):
            await _write(session, built)
    except IntegrityError:
        await _one_by_one(session, pending, ctx.principal, out)
    else:
        out.created += len(built)
    return out
