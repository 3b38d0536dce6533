"""Customers: upserted by their natural key, new ones through the bulk path and matched ones
through the customer service's own update."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError

from crm_chassis.errors import AppError, Unprocessable
from crm_customer import access
from crm_customer.customers import bulk as customer_bulk
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import service as customer_service
from crm_customer.customers.models import Customer
from crm_customer.customers.schemas import CustomerCreate, CustomerRead, CustomerUpdate
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

SPEC = KindSpec(
    model=CustomerCreate,
    read_model=CustomerRead,
    natural_key="external_ref, else email (case-insensitive), else phone (E.164); the first one the row has",
)
Key = tuple[str, str]  # (column, normalised value)


def natural_key(data: CustomerCreate, region: str) -> Key | None:
    if data.external_ref:
        return ("external_ref", data.external_ref)
    if data.email:
        return ("email", data.email)  # the schema lower-cases it, as for every stored email
    if data.phone:
        try:
            return ("phone", customer_service.normalise_phone(data.phone, region))
        except ValueError:
            return None  # the create below reports the bad number
    return None


async def _existing(session: Session, keys: set[Key]) -> dict[Key, list[Customer]]:
    """The customers each key names, found with one query for the chunk."""
    by_column: dict[str, set[str]] = {"external_ref": set(), "email": set(), "phone": set()}
    for column, value in keys:
        by_column[column].add(value)
    customers = await customer_repo.by_natural_keys(
        session, external_refs=by_column["external_ref"], emails=by_column["email"], phones=by_column["phone"]
    )
    found: dict[Key, list[Customer]] = {}
    for customer in customers:
        for column in ("external_ref", "email", "phone"):
            value = getattr(customer, column)
            if value in by_column[column] and (column == "external_ref" or customer.deleted_at is None):
                found.setdefault((column, value), []).append(customer)
    return found


async def _upsert(
    session: Session,
    data: CustomerCreate,
    values: dict[str, Any],
    key: Key | None,
    matches: list[Customer],
    ctx: ImportContext,
) -> tuple[str, Customer]:
    if not matches:
        customer, _ = await customer_service.create(
            session, data=data, phone_region=ctx.phone_region, principal=ctx.principal
        )
        return "created", customer
    assert key is not None
    column = key[0]
    if len(matches) > 1:
        message = f"{len(matches)} customers have this {column}; add an external_ref column to say which one"
        raise Unprocessable.field(column, "ambiguous_match", message)
    customer = matches[0]
    if customer.deleted_at is not None:
        raise Unprocessable.field(column, "deleted_customer", f"this {column} belongs to a deleted customer")
    if customer.kind != data.kind:
        raise Unprocessable.field("kind", "kind_mismatch", f"the customer with this {column} is a {customer.kind}")
    changes = CustomerUpdate.model_validate({k: v for k, v in values.items() if k != "kind"})
    before = customer.version
    await customer_service.update(
        session, customer=customer, data=changes, phone_region=ctx.phone_region, principal=ctx.principal
    )
    return ("updated" if customer.version != before else "skipped"), customer


@dataclass(frozen=True)
class ParsedRow:
    """A row read and checked without the database: the customer it describes, or its problems."""

    number: int
    data: CustomerCreate | None = None
    values: dict[str, Any] = field(default_factory=dict)
    key: Key | None = None
    problems: list[Problem] = field(default_factory=list)
    draft: customer_bulk.Draft | None = None  # the customer it would create, worked out beforehand


def prepare(columns: list[str], rows: list[Row], ctx: ImportContext) -> list[ParsedRow]:
    """The chunk's rows read and validated: CPU work only, so it runs in a worker thread while the
    chunk before it is written (see the runner)."""
    parsed = []
    for number, cells in rows:
        values, problems = row_values(SPEC, columns, cells)
        if problems:
            parsed.append(ParsedRow(number, problems=problems))
            continue
        try:
            data = CustomerCreate.model_validate(values)
        except ValidationError as exc:
            parsed.append(ParsedRow(number, problems=from_validation(exc)))
            continue
        draft = customer_bulk.draft(data, ctx.phone_region, ctx.principal)
        parsed.append(ParsedRow(number, data, values, natural_key(data, ctx.phone_region), draft=draft))
    return parsed


async def process(session: Session, _columns: list[str], parsed: list[ParsedRow], ctx: ImportContext) -> ChunkOutcome:
    """New customers through the bulk path together (`customers/bulk.py`); a row whose key names a
    customer the caller sees, or that an earlier row of the chunk creates, is applied after them, one
    by one in file order, through the service's own update."""
    out = ChunkOutcome()
    rows = [row for row in parsed if row.data is not None]
    for row in parsed:
        if row.data is None:
            out.fail(row.number, row.problems)
    existing = await _existing(session, {row.key for row in rows if row.key is not None})
    new: list[ParsedRow] = []
    later: list[ParsedRow] = []
    claimed: set[Key] = set()
    for row in rows:
        # A customer the caller may not see is not matched, as the API would answer 404 for it.
        if row.key is not None and (row.key in claimed or any(_visible(c, ctx) for c in existing.get(row.key, []))):
            later.append(row)
            continue
        if row.key is not None:
            claimed.add(row.key)  # a later row of the file with this key updates this one
        new.append(row)
    outcomes = await customer_bulk.create(
        session,
        [cast(CustomerCreate, row.data) for row in new],
        phone_region=ctx.phone_region,
        principal=ctx.principal,
        drafts=[cast(customer_bulk.Draft, row.draft) for row in new],
    )
    for row, outcome in zip(new, outcomes, strict=True):
        if outcome.error is not None:
            out.fail(row.number, from_app_error(outcome.error))
        elif outcome.created:
            out.created += 1
        else:
            out.skipped += 1  # the repost of a customer a concurrent writer created meanwhile
    if later:
        existing = await _existing(session, {row.key for row in later if row.key is not None})
    for row in later:
        await _one(session, row, existing, ctx, out)
    return out


def _visible(customer: Customer, ctx: ImportContext) -> bool:
    return access.can_see(ctx.principal, customer.owner_id)


async def _one(
    session: Session, row: ParsedRow, existing: dict[Key, list[Customer]], ctx: ImportContext, out: ChunkOutcome
) -> None:
    """One row upserted in its own savepoint, its failure recorded in `out`."""
    assert row.data is not None
    matches = [c for c in (existing.get(row.key, []) if row.key else []) if _visible(c, ctx)]
    try:
        async with savepoint(session):
            result, customer = await _upsert(session, row.data, row.values, row.key, matches, ctx)
    except AppError as exc:
        out.fail(row.number, from_app_error(exc))
        return
    except IntegrityError:
        out.fail(row.number, [CONFLICTED])
        return
    if row.key is not None:
        existing[row.key] = [customer]  # a later row of the file with this key updates it
    setattr(out, result, getattr(out, result) + 1)
