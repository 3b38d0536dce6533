"""Customers: upserted by their natural key through the customer service's own create and update."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from crm_chassis.errors import AppError, Unprocessable
from crm_customer import access
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


async def process(session: Session, columns: list[str], rows: list[Row], ctx: ImportContext) -> ChunkOutcome:
    out = ChunkOutcome()
    parsed: list[tuple[int, CustomerCreate, dict[str, Any], Key | None]] = []
    for number, cells in rows:
        values, problems = row_values(SPEC, columns, cells)
        if problems:
            out.fail(number, problems)
            continue
        try:
            data = CustomerCreate.model_validate(values)
        except ValidationError as exc:
            out.fail(number, from_validation(exc))
            continue
        parsed.append((number, data, values, natural_key(data, ctx.phone_region)))
    keys = {key for *_, key in parsed if key is not None}
    # Fast path: the whole chunk under one savepoint. A row that fails rolls it back, and the chunk
    # is redone with a savepoint per row, so that only the failing rows are left out.
    try:
        async with savepoint(session):
            tally = await _apply(session, parsed, await _existing(session, keys), ctx, None)
    except (AppError, IntegrityError):
        tally = await _apply(session, parsed, await _existing(session, keys), ctx, out)
    for result, count in tally.items():
        setattr(out, result, getattr(out, result) + count)
    return out


async def _apply(
    session: Session,
    parsed: list[tuple[int, CustomerCreate, dict[str, Any], Key | None]],
    existing: dict[Key, list[Customer]],
    ctx: ImportContext,
    isolate: ChunkOutcome | None,
) -> dict[str, int]:
    """Upsert the rows; with `isolate`, each row in its own savepoint and its failure recorded there."""
    tally = {"created": 0, "updated": 0, "skipped": 0}
    for number, data, values, key in parsed:
        # A customer the caller may not see is not matched, as the API would answer 404 for it.
        matches = [c for c in (existing.get(key, []) if key else []) if access.can_see(ctx.principal, c.owner_id)]
        if isolate is None:
            result, customer = await _upsert(session, data, values, key, matches, ctx)
        else:
            try:
                async with savepoint(session):
                    result, customer = await _upsert(session, data, values, key, matches, ctx)
            except AppError as exc:
                isolate.fail(number, from_app_error(exc))
                continue
            except IntegrityError:
                isolate.fail(number, [CONFLICTED])
                continue
        if key is not None:
            existing[key] = [customer]  # a later row of the file with this key updates it
        tally[result] += 1
    return tally
