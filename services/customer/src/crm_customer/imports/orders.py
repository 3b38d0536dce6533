"""Orders, the bulk path: a chunk is validated row by row, then written with multi-row inserts.

Rows are checked with the API's `OrderCreate` and the rules of `order_service.record` (a known
(source, external_ref) is a repost and creates nothing; the customer must exist and be live), but
with one query per chunk for each rule instead of one per row. If the chunk's insert still hits a
constraint (a concurrent writer), the chunk is redone row by row through `order_service.record`.

A row that names a purchase in `refund_of` (its id) or `refund_of_external_ref` (its external_ref
in the row's source) is a refund of it, with a negative amount as exports write refunds. It goes
through `order_service.refund`, the API's refund, one row at a time; its customer, currency and,
when given, source, channel and location must be the purchase's. Rows are applied in file order:
the purchases above a refund are written before it, so a refund may name a purchase on an earlier
row, never one further down.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Table, and_, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.errors import AppError, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_customer import access, events
from crm_customer.customers import repository as customer_repo
from crm_customer.customers.models import Customer
from crm_customer.db import infra
from crm_customer.imports.columns import KindSpec, row_values
from crm_customer.imports.context import ImportContext
from crm_customer.imports.outcome import (
    CONFLICTED,
    ChunkOutcome,
    Problem,
    Row,
    from_app_error,
    from_validation,
    one_of,
    savepoint,
)
from crm_customer.orders import repository as order_repo
from crm_customer.orders import service as order_service
from crm_customer.orders.models import Order
from crm_customer.orders.schemas import Currency, OrderCreate, OrderRead, Ref, RefundCreate, Short


class RefundLink(BaseModel):
    """The columns of a refund row that name its purchase, and those that must agree with it."""

    model_config = ConfigDict(extra="forbid")

    refund_of: uuid.UUID | None = Field(None, description="the purchase's id")
    refund_of_external_ref: Ref | None = Field(None, description="the purchase's external_ref in the row's source")
    customer_id: uuid.UUID | None = None
    customer_external_ref: Ref | None = None
    currency: Currency
    source: Short | None = None
    channel: str | None = None
    location: str | None = None

    @model_validator(mode="after")
    def _one_each(self) -> RefundLink:
        if self.refund_of is not None and self.refund_of_external_ref is not None:
            raise ValueError("name the purchase by one of refund_of (its id) or refund_of_external_ref, not both")
        if (self.customer_id is None) == (self.customer_external_ref is None):
            raise ValueError("name the customer by exactly one of customer_id or customer_external_ref")
        return self


SPEC = KindSpec(
    model=OrderCreate,
    read_model=OrderRead,
    natural_key="(source, external_ref): an order already recorded is skipped",
    one_of=(frozenset({"customer_id", "customer_external_ref"}),),
    variants=(RefundCreate, RefundLink),
)
LINKS = frozenset({"refund_of", "refund_of_external_ref"})
_REFUND_COLUMNS = RefundCreate.model_fields.keys() | RefundLink.model_fields.keys()
_REFUND_ONLY = _REFUND_COLUMNS - OrderCreate.model_fields.keys()  # the link, and `reason`
_DEFAULT_SOURCE = OrderCreate.model_fields["source"].default
_AGREEING = ("currency", "source", "channel", "location")  # a refund copies these from its purchase


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
            out.fail(number, [CONFLICTED])
        else:
            out.created += created
            out.skipped += not created


async def process(session: AsyncSession, columns: list[str], rows: list[Row], ctx: ImportContext) -> ChunkOutcome:
    out = ChunkOutcome()
    purchases: list[tuple[int, OrderCreate]] = []
    for number, cells in rows:
        values, problems = row_values(SPEC, columns, cells)
        if problems:
            out.fail(number, problems)
        elif LINKS & values.keys():
            await _record(session, purchases, ctx, out)  # the rows above first: the refund may name one
            purchases = []
            await _refund(session, number, values, ctx, out)
        elif refund_only := sorted(values.keys() & _REFUND_ONLY):
            message = "only a refund row (with refund_of or refund_of_external_ref) takes this column"
            out.fail(number, [Problem(name, "refund_only", message) for name in refund_only])
        else:
            try:
                purchases.append((number, OrderCreate.model_validate(values)))
            except ValidationError as exc:
                out.fail(number, from_validation(exc))
    await _record(session, purchases, ctx, out)
    return out


async def _record(
    session: AsyncSession, parsed: list[tuple[int, OrderCreate]], ctx: ImportContext, out: ChunkOutcome
) -> None:
    """Purchases, consecutive rows of the file, checked with one query per rule and written together."""
    if not parsed:
        return
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
                out.fail(number, [Problem("customer_id", "unknown_customer", f"no customer {data.customer_id}")])
                continue
            customer_id = data.customer_id
        else:
            if data.customer_external_ref not in by_ref:
                message = f"no customer with external_ref {data.customer_external_ref!r}"
                out.fail(number, [Problem("customer_external_ref", "unknown_customer", message)])
                continue
            customer_id = by_ref[data.customer_external_ref]
        if data.external_ref is not None:
            recorded.add((data.source, data.external_ref))  # a repost later in the same file is skipped
        pending.append((number, data))
        built.append(_order(data, customer_id, now))
    if not built:
        return
    try:
        async with savepoint(session):
            await _write(session, built)
    except IntegrityError:
        await _one_by_one(session, pending, ctx.principal, out)
    else:
        out.created += len(built)


def _refund_row(values: dict[str, Any]) -> tuple[RefundLink, RefundCreate] | list[Problem]:
    """The row read as a link to its purchase and the API's refund request, or what is wrong with it."""
    problems = [
        Problem(name, "not_for_refund", f"a refund row has no {name}: leave the cell empty")
        for name, value in values.items()
        if name not in _REFUND_COLUMNS and value != []  # an export writes a refund's items as []
    ]
    refund_values = {name: value for name, value in values.items() if name in RefundCreate.model_fields}
    if "amount" in refund_values:
        paid_back = _paid_back(refund_values["amount"])
        if paid_back is None:
            message = "a refund's amount is negative, the money paid back, as exports write it (-40.00)"
            problems.append(Problem("amount", "refund_not_negative", message))
        refund_values["amount"] = paid_back
    link = refund = None
    try:
        link = RefundLink.model_validate({k: v for k, v in values.items() if k in RefundLink.model_fields})
    except ValidationError as exc:
        problems += from_validation(exc)
    try:
        refund = RefundCreate.model_validate(refund_values)
    except ValidationError as exc:
        reported = {p.column for p in problems}
        problems += [p for p in from_validation(exc) if p.column not in reported]
    if problems or link is None or refund is None:
        return problems
    return link, refund


def _paid_back(cell: Any) -> Any:
    """The positive amount refunded for the row's negative one; None if it is not negative."""
    try:
        amount = Decimal(cell)
    except (InvalidOperation, TypeError, ValueError):
        return cell  # not a number: RefundCreate says so in the API's words
    if not amount.is_finite():
        return cell
    return -amount if amount < 0 else None


async def _refund(
    session: AsyncSession, number: int, values: dict[str, Any], ctx: ImportContext, out: ChunkOutcome
) -> None:
    parsed = _refund_row(values)
    if isinstance(parsed, list):
        out.fail(number, parsed)
        return
    link, data = parsed
    column = "refund_of" if link.refund_of is not None else "refund_of_external_ref"
    try:
        async with savepoint(session):
            purchase = await _purchase(session, link, column, ctx.principal)
            await _check_agrees(session, link, purchase)
            _, created = await order_service.refund(session, order_id=purchase.id, data=data, principal=ctx.principal)
    except AppError as exc:
        out.fail(number, from_app_error(exc, {"refund_of_refund": column}))
    except IntegrityError:
        out.fail(number, [CONFLICTED])
    else:
        out.created += created
        out.skipped += not created


async def _purchase(session: AsyncSession, link: RefundLink, column: str, principal: Principal) -> Order:
    """The order the row refunds, locked as the API's refund locks it; 422 if the caller sees none."""
    order_id: uuid.UUID | None
    if link.refund_of is not None:
        order_id, named = link.refund_of, f"no order {link.refund_of}"
    else:
        source = link.source or _DEFAULT_SOURCE
        found = await order_repo.by_external_ref(session, source, cast(str, link.refund_of_external_ref))
        order_id = None if found is None else found.id
        named = f"no order with external_ref {link.refund_of_external_ref!r} in source {source!r}"
    if order_id is not None:
        with contextlib.suppress(NotFound):  # deleted, or of a customer the caller may not see
            return await order_service.get(session, order_id=order_id, principal=principal, for_update=True)
    message = f"{named} was recorded before this row (a purchase goes above its refunds in the file)"
    raise Unprocessable.field(column, "unknown_original", message)


async def _check_agrees(session: AsyncSession, link: RefundLink, purchase: Order) -> None:
    """The customer and currency the row names, and source, channel and location if given, are the purchase's."""
    errors = []
    customer_id: uuid.UUID | None
    if link.customer_id is not None:
        column, customer_id = "customer_id", link.customer_id
    else:
        column = "customer_external_ref"
        customer_id = await customer_repo.id_by_external_ref(session, cast(str, link.customer_external_ref))
    if customer_id != purchase.customer_id:
        errors.append({"field": column, "code": "customer_mismatch", "message": "the purchase is another customer's"})
    for name in _AGREEING:
        given, recorded = getattr(link, name), getattr(purchase, name)
        if given is not None and given != recorded:
            message = f"the purchase's {name} is {recorded!r}, and a refund is recorded with its purchase's"
            errors.append({"field": name, "code": f"{name}_mismatch", "message": message})
    if errors:
        raise Unprocessable("the refund does not match its purchase", errors=errors)
