"""Orders, the bulk path: a chunk is validated row by row, then recorded as `POST /orders/batch`
records its items (`orders/bulk.py`): one query per rule for the chunk and multi-row inserts. A
known (source, external_ref) with the same values is a repost and creates nothing; with other
values the row fails with `external_ref_conflict`.

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
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crm_chassis.errors import AppError, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_customer.customers import repository as customer_repo
from crm_customer.db import IntegrityError, Session
from crm_customer.imports.columns import KindSpec, row_values
from crm_customer.imports.context import ImportContext
from crm_customer.imports.outcome import (
    CONFLICTED,
    ChunkOutcome,
    Problem,
    Row,
    from_app_error,
    from_validation,
    savepoint,
)
from crm_customer.orders import bulk as order_bulk
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


@dataclass(frozen=True)
class ParsedRow:
    """A row read and checked without the database: a purchase, a refund's values, or its problems."""

    number: int
    purchase: OrderCreate | None = None
    refund: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)


def prepare(columns: list[str], rows: list[Row], _ctx: ImportContext) -> list[ParsedRow]:
    """The chunk's rows read and validated: CPU work only, so it runs in a worker thread while the
    chunk before it is written (see the runner)."""
    parsed = []
    for number, cells in rows:
        values, problems = row_values(SPEC, columns, cells)
        if problems:
            parsed.append(ParsedRow(number, problems=problems))
        elif LINKS & values.keys():
            parsed.append(ParsedRow(number, refund=values))
        elif refund_only := sorted(values.keys() & _REFUND_ONLY):
            message = "only a refund row (with refund_of or refund_of_external_ref) takes this column"
            parsed.append(ParsedRow(number, problems=[Problem(name, "refund_only", message) for name in refund_only]))
        else:
            try:
                parsed.append(ParsedRow(number, purchase=OrderCreate.model_validate(values)))
            except ValidationError as exc:
                parsed.append(ParsedRow(number, problems=from_validation(exc)))
    return parsed


async def process(session: Session, _columns: list[str], parsed: list[ParsedRow], ctx: ImportContext) -> ChunkOutcome:
    """The prepared rows applied in file order: consecutive purchases together, refunds one by one."""
    out = ChunkOutcome()
    purchases: list[tuple[int, OrderCreate]] = []
    for row in parsed:
        if row.refund is not None:
            await _record(session, purchases, ctx, out)  # the rows above first: the refund may name one
            purchases = []
            await _refund(session, row.number, row.refund, ctx, out)
        elif row.purchase is not None:
            purchases.append((row.number, row.purchase))
        else:
            out.fail(row.number, row.problems)
    await _record(session, purchases, ctx, out)
    return out


async def _record(
    session: Session, parsed: list[tuple[int, OrderCreate]], ctx: ImportContext, out: ChunkOutcome
) -> None:
    """Purchases, consecutive rows of the file, recorded together as a batch of the API records them."""
    if not parsed:
        return
    outcomes = await order_bulk.record(session, [data for _, data in parsed], ctx.principal)
    for (number, _), outcome in zip(parsed, outcomes, strict=True):
        if outcome.error is not None:
            out.fail(number, from_app_error(outcome.error))
        elif outcome.created:
            out.created += 1
        else:
            out.skipped += 1


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


async def _refund(session: Session, number: int, values: dict[str, Any], ctx: ImportContext, out: ChunkOutcome) -> None:
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


async def _purchase(session: Session, link: RefundLink, column: str, principal: Principal) -> Order:
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


async def _check_agrees(session: Session, link: RefundLink, purchase: Order) -> None:
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
