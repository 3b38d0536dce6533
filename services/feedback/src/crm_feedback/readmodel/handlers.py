"""Keeps `customer_ref` in step with the customer service's events.

Each handler is idempotent and ignores versions older than the one stored, so a replayed or
reordered event changes nothing. A merge marks the duplicate merged into the survivor (no new
records for it) and moves its records there; an undone merge clears the mark and moves the same
records back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from crm_chassis.consumer import Handler
from crm_chassis.events import Event
from crm_feedback.db import Session
from crm_feedback.readmodel import customer_records
from crm_feedback.readmodel import repository as customer_repo
from crm_feedback.readmodel.models import CustomerRef


class CustomerFacts(BaseModel):
    """The fields of `customer.*` payloads this service reads; the rest is ignored."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    kind: str | None = None
    name: str | None = None
    owner_id: uuid.UUID | None = None
    lifecycle_stage: str | None = None


async def _upsert(session: Session, event: Event, **changes: Any) -> None:
    facts = CustomerFacts.model_validate(event.data)
    ref = await customer_repo.get_for_update(session, facts.id)
    if ref is not None and ref.version >= event.version:
        return
    values: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at, **changes}
    if facts.kind is not None:
        values.update(
            kind=facts.kind,
            display_name=facts.name,
            owner_id=facts.owner_id,
            lifecycle_stage=facts.lifecycle_stage,
        )
    if ref is None:
        values.setdefault("kind", "individual")
        values.setdefault("display_name", "")
        session.add(CustomerRef(id=facts.id, **values))
    else:
        for name, value in values.items():
            setattr(ref, name, value)


async def on_customer_changed(session: Session, event: Event) -> None:
    await _upsert(session, event)


async def on_customer_deleted(session: Session, event: Event) -> None:
    await _upsert(session, event, deleted=True)


async def on_customer_erased(session: Session, event: Event) -> None:
    await _upsert(session, event, erased=True, display_name="")
    await customer_records.erase(session, CustomerFacts.model_validate(event.data).id)


class MergeFacts(BaseModel):
    """The fields of `customer.merged` and `customer.unmerged` payloads this service reads."""

    model_config = ConfigDict(extra="ignore")

    survivor_id: uuid.UUID
    duplicate_id: uuid.UUID


async def on_customer_merged(session: Session, event: Event) -> None:
    facts = MergeFacts.model_validate(event.data)
    # Marked (and its row locked) before the records move: a write naming the duplicate takes a
    # shared lock on this row first, so it either finishes before and its record moves with the
    # rest, or waits and is refused as merged. The ref's version is left alone: the merge is not
    # a change of the customer's facts, and `customer.updated` events keep their order.
    ref = await customer_repo.get_for_update(session, facts.duplicate_id)
    if ref is None:
        ref = CustomerRef(
            id=facts.duplicate_id, kind="individual", display_name="", version=0, updated_at=event.occurred_at
        )
        session.add(ref)
    ref.merged_into = facts.survivor_id
    await session.flush()
    await customer_repo.move_records(
        session, survivor_id=facts.survivor_id, duplicate_id=facts.duplicate_id, merged_at=event.occurred_at
    )


async def on_customer_unmerged(session: Session, event: Event) -> None:
    # Feedback's merge changes only which customer its records point to (their owner, and so who
    # may see them, follows from `customer_ref`) and marks the duplicate merged, so moving the
    # records back and clearing the mark is the whole undo; the customer service follows this
    # event with `customer.updated` for both customers.
    facts = MergeFacts.model_validate(event.data)
    ref = await customer_repo.get_for_update(session, facts.duplicate_id)
    if ref is not None and ref.merged_into == facts.survivor_id:
        ref.merged_into = None
    await customer_repo.move_records_back(session, survivor_id=facts.survivor_id, duplicate_id=facts.duplicate_id)


HANDLERS: Mapping[str, Handler] = {
    "customer.created": on_customer_changed,
    "customer.updated": on_customer_changed,
    "customer.deleted": on_customer_deleted,
    "customer.erased": on_customer_erased,
    "customer.merged": on_customer_merged,
    "customer.unmerged": on_customer_unmerged,
}
