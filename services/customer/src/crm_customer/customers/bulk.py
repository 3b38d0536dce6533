"""Many new customers at once, for `POST /customers/batch` and the customers import alike.

The customers are checked by the rules of `customer_service.create`, with one query per rule for
all of them instead of one per customer: the fields as the single create checks them, a
`referred_by` that must name a live customer the caller may see, an owner that must be an active
agent or manager (once per distinct owner). The new ones are written with one bulk insert of
customers, one of their history rows and one of their `customer.created` events, each row built
as the single create builds it (`customer_service.new_row`).

An item whose `external_ref` some customer already holds, or that an earlier item of the same call
takes, is a repost: it goes through `customer_service.create` after the others, in its own
savepoint, which answers `existing` or `external_ref_conflict` as `POST /customers` does. If the
bulk insert still hits a constraint (a concurrent writer took a reference meanwhile), the items
are redone one by one the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from crm_chassis.db import utcnow
from crm_chassis.errors import AppError
from crm_chassis.identity import Principal
from crm_customer import batch, events
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import service as customer_service
from crm_customer.customers.models import Customer
from crm_customer.customers.schemas import CustomerCreate
from crm_customer.db import IntegrityError, Session, savepoint
from crm_customer.users import service as user_service

Outcome = batch.Outcome


@dataclass(frozen=True)
class Draft:
    """A new customer worked out without the database: its checked fields with their row and history
    row (timestamps set when written), or the fields with what is wrong with them, or the refusal."""

    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    row: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    refusal: AppError | None = None


def draft(data: CustomerCreate, phone_region: str, principal: Principal) -> Draft:
    """CPU work only: an import drafts its rows in a worker thread, before or while others are written."""
    try:
        fields, errors = customer_service.draft_fields(data, phone_region, principal)
    except AppError as exc:
        return Draft(refusal=exc)
    if errors:
        return Draft(fields, errors)
    fields = customer_service.finish_fields(fields, [], None)
    row = customer_service.new_row(data, fields, principal, _UNSET)
    return Draft(fields, row=row, history=customer_service.creation_audit(row, fields, principal))


_UNSET = datetime.min.replace(tzinfo=UTC)  # a draft's timestamps, until it is written


async def create(
    session: Session,
    items: Sequence[CustomerCreate],
    *,
    phone_region: str,
    principal: Principal,
    drafts: Sequence[Draft] | None = None,
) -> list[Outcome]:
    """The outcome of each item, in order; the new customers are written in the caller's transaction.
    `drafts`, one per item, when they were worked out beforehand (`draft`)."""
    if drafts is None:
        drafts = [draft(data, phone_region, principal) for data in items]
    taken = await customer_repo.taken_external_refs(session, {d.external_ref for d in items if d.external_ref})
    named = {d.referred_by for d in items if d.referred_by is not None}
    referable = await customer_repo.visible_live_ids(session, named, principal) if named else set()
    owner_refusals: dict[uuid.UUID, AppError | None] = {}
    outcomes: list[Outcome | None] = [None] * len(items)
    reposts: list[int] = []
    pending: list[int] = []
    rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    now = utcnow()
    for i, (data, planned) in enumerate(zip(items, drafts, strict=True)):
        if data.external_ref is not None and data.external_ref in taken:
            reposts.append(i)
            continue
        try:
            row, changed = _checked(planned, referable)
            owner = row["owner_id"]
            if owner is not None:
                if owner not in owner_refusals:
                    owner_refusals[owner] = await _owner_refusal(session, principal, owner)
                if (refusal := owner_refusals[owner]) is not None:
                    raise refusal
        except AppError as exc:
            outcomes[i] = Outcome(error=exc)
            continue
        if data.external_ref is not None:
            taken.add(data.external_ref)  # a later item with this reference is a repost of this one
        row = row | {"created_at": now, "updated_at": now}
        if row["lifecycle_changed_at"] is not None:
            row["lifecycle_changed_at"] = now
        pending.append(i)
        rows.append(row)
        history.append(changed | {"customer_id": row["id"], "changed_at": now})
    if rows:
        try:
            async with savepoint(session):
                await _write(session, rows, history)
        except IntegrityError:
            reposts = sorted([*pending, *reposts])
        else:
            for i, row in zip(pending, rows, strict=True):
                outcomes[i] = Outcome(created=True, id=row["id"])
    for i in reposts:
        outcomes[i] = await _one(session, items[i], phone_region, principal)
    return [cast(Outcome, o) for o in outcomes]


def _checked(planned: Draft, referable: set[uuid.UUID]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The draft's row and history row once the checks that need other rows pass; else the refusal."""
    if planned.refusal is not None:
        raise planned.refusal
    referred_by = planned.fields.get("referred_by")
    if planned.row is None or (referred_by is not None and referred_by not in referable):
        customer_service.finish_fields(planned.fields, planned.errors, referable)  # raises, listing every field
        raise AssertionError("a refused draft passed its checks")
    assert planned.history is not None  # drafted with the row
    return planned.row, planned.history


async def _owner_refusal(session: Session, principal: Principal, owner_id: uuid.UUID) -> AppError | None:
    try:
        await user_service.check_owner(session, principal, owner_id)
    except AppError as exc:
        return exc
    return None


async def _write(session: Session, rows: list[dict[str, Any]], history: list[dict[str, Any]]) -> None:
    await customer_repo.insert_many(session, rows, history)
    # event_data only reads attributes, so the row stands in for the Customer it describes.
    created = [(row["id"], customer_service.event_data(cast(Customer, SimpleNamespace(**row))), 1) for row in rows]
    await events.publish_many(session, events.CUSTOMER_CREATED, created)


async def _one(session: Session, data: CustomerCreate, phone_region: str, principal: Principal) -> Outcome:
    return await batch.one_by_one(
        session, lambda: customer_service.create(session, data=data, phone_region=phone_region, principal=principal)
    )
