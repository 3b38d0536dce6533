"""Keeps `customer_ref` in step with the customer service's events.

Each handler is idempotent and ignores versions older than the one stored, so a replayed or
reordered event changes nothing. A merge moves the duplicate's facts to the survivor.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.consumer import Handler
from crm_chassis.events import Event
from crm_scoring.readmodel.activity import ACTIVITY_HANDLERS
from crm_scoring.readmodel.models import ComplaintFact, CustomerRef, InteractionFact, OrderFact, SurveyResponseFact
from crm_scoring.scores import service as score_service


class CustomerFacts(BaseModel):
    """The fields of `customer.*` payloads this service reads; the rest is ignored."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    kind: str | None = None
    name: str | None = None
    owner_id: uuid.UUID | None = None
    lifecycle_stage: str | None = None
    referred_by: uuid.UUID | None = None
    created_at: datetime | None = None


async def _upsert(session: AsyncSession, event: Event, **changes: Any) -> None:
    facts = CustomerFacts.model_validate(event.data)
    ref = await session.get(CustomerRef, facts.id, with_for_update=True)
    if ref is not None and ref.version >= event.version:
        return
    values: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at, **changes}
    if facts.kind is not None:
        values.update(
            kind=facts.kind,
            display_name=facts.name,
            owner_id=facts.owner_id,
            lifecycle_stage=facts.lifecycle_stage,
            referred_by=facts.referred_by,
            created_at=facts.created_at,
        )
        for referrer in {facts.referred_by, ref.referred_by if ref else None} - {None}:
            await score_service.request(session, referrer)  # type: ignore[arg-type]
    if ref is None:
        values.setdefault("kind", "individual")
        values.setdefault("display_name", "")
        session.add(CustomerRef(id=facts.id, **values))
    else:
        for name, value in values.items():
            setattr(ref, name, value)


async def on_customer_changed(session: AsyncSession, event: Event) -> None:
    await _upsert(session, event)


async def on_customer_deleted(session: AsyncSession, event: Event) -> None:
    await _upsert(session, event, deleted=True)
    await score_service.forget(session, uuid.UUID(event.data["id"]))


async def on_customer_erased(session: AsyncSession, event: Event) -> None:
    await _upsert(session, event, erased=True, display_name="")
    await score_service.forget(session, uuid.UUID(event.data["id"]))


FACT_TABLES = (OrderFact, InteractionFact, ComplaintFact, SurveyResponseFact)
# the kinds a `customer.unmerged` event lists its moved record ids under
UNMERGE_KINDS: dict[str, Any] = {
    "orders": OrderFact,
    "interactions": InteractionFact,
    "complaints": ComplaintFact,
    "survey_responses": SurveyResponseFact,
}


async def on_customer_merged(session: AsyncSession, event: Event) -> None:
    survivor, duplicate = uuid.UUID(event.data["survivor_id"]), uuid.UUID(event.data["duplicate_id"])
    for model in FACT_TABLES:
        await session.execute(update(model).where(model.customer_id == duplicate).values(customer_id=survivor))
    await session.execute(update(CustomerRef).where(CustomerRef.referred_by == duplicate).values(referred_by=survivor))
    ref = await session.get(CustomerRef, duplicate)
    if ref is None:
        ref = CustomerRef(id=duplicate, kind="individual", display_name="", version=0, updated_at=event.occurred_at)
        session.add(ref)
    ref.merged_into = survivor
    await score_service.forget(session, duplicate)
    await score_service.request(session, survivor)


async def on_customer_unmerged(session: AsyncSession, event: Event) -> None:
    survivor, duplicate = uuid.UUID(event.data["survivor_id"]), uuid.UUID(event.data["duplicate_id"])
    moved = event.data.get("moved") or {}
    for kind, model in UNMERGE_KINDS.items():
        ids = [uuid.UUID(str(i)) for i in moved.get(kind) or []]
        if ids:
            await session.execute(update(model).where(model.id.in_(ids)).values(customer_id=duplicate))
    ref = await session.get(CustomerRef, duplicate)
    if ref is not None:
        ref.merged_into = None
    await score_service.request(session, survivor)
    await score_service.request(session, duplicate)


HANDLERS: Mapping[str, Handler] = {
    "customer.created": on_customer_changed,
    "customer.updated": on_customer_changed,
    "customer.deleted": on_customer_deleted,
    "customer.erased": on_customer_erased,
    "customer.owner_changed": on_customer_changed,
    "customer.merged": on_customer_merged,
    "customer.unmerged": on_customer_unmerged,
    **ACTIVITY_HANDLERS,
}
