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

from crm_chassis.consumer import Handler
from crm_chassis.events import Event
from crm_scoring.db import Session
from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.readmodel.activity import ACTIVITY_HANDLERS
from crm_scoring.readmodel.contacts import CONTACT_HANDLERS
from crm_scoring.readmodel.models import CustomerRef
from crm_scoring.reasons import service as reason_service
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
    phone: str | None = None
    preferred_channel: str | None = None
    best_contact_time: str | None = None
    influence_level: str | None = None
    industry_standing: str | None = None


async def _upsert(session: Session, event: Event, **changes: Any) -> None:
    facts = CustomerFacts.model_validate(event.data)
    ref = await fact_repo.get_customer(session, facts.id, for_update=True)
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
            phone=facts.phone and facts.phone[:40],
            preferred_channel=facts.preferred_channel and facts.preferred_channel[:16],
            best_contact_time=facts.best_contact_time and facts.best_contact_time[:100],
            influence_level=facts.influence_level and facts.influence_level[:16],
            industry_standing=facts.industry_standing and facts.industry_standing[:200],
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


async def on_customer_changed(session: Session, event: Event) -> None:
    await _upsert(session, event)


async def on_customer_deleted(session: Session, event: Event) -> None:
    await _upsert(session, event, deleted=True)
    await score_service.forget(session, uuid.UUID(event.data["id"]))


async def on_customer_erased(session: Session, event: Event) -> None:
    await _upsert(
        session, event, erased=True, display_name="", phone=None, preferred_channel=None, best_contact_time=None
    )
    await fact_repo.blank_summaries(session, uuid.UUID(event.data["id"]))
    await score_service.forget(session, uuid.UUID(event.data["id"]))
    await reason_service.forget_personal(session, uuid.UUID(event.data["id"]))


async def on_customer_merged(session: Session, event: Event) -> None:
    survivor, duplicate = uuid.UUID(event.data["survivor_id"]), uuid.UUID(event.data["duplicate_id"])
    await fact_repo.move_facts(session, duplicate_id=duplicate, survivor_id=survivor)
    await reason_service.merge(session, duplicate_id=duplicate, survivor_id=survivor)
    ref = await fact_repo.get_customer(session, duplicate)
    if ref is None:
        ref = CustomerRef(id=duplicate, kind="individual", display_name="", version=0, updated_at=event.occurred_at)
        session.add(ref)
    ref.merged_into = survivor
    await score_service.forget(session, duplicate)
    await score_service.request(session, survivor)


async def on_customer_unmerged(session: Session, event: Event) -> None:
    survivor, duplicate = uuid.UUID(event.data["survivor_id"]), uuid.UUID(event.data["duplicate_id"])
    listed = event.data.get("moved") or {}
    moved = {
        kind: [uuid.UUID(str(i)) for i in listed.get(kind) or []]
        for kind in (*fact_repo.UNMERGE_KINDS, *fact_repo.CONTACT_UNMERGE_KINDS)
    }
    holders = await fact_repo.move_facts_back(session, moved, duplicate_id=duplicate)
    await reason_service.unmerge(session, duplicate_id=duplicate, survivor_id=survivor)
    ref = await fact_repo.get_customer(session, duplicate)
    if ref is not None:
        ref.merged_into = None
    for customer_id in sorted({survivor, duplicate, *holders}):
        await score_service.request(session, customer_id)


HANDLERS: Mapping[str, Handler] = {
    "customer.created": on_customer_changed,
    "customer.updated": on_customer_changed,
    "customer.deleted": on_customer_deleted,
    "customer.erased": on_customer_erased,
    "customer.owner_changed": on_customer_changed,
    "customer.merged": on_customer_merged,
    "customer.unmerged": on_customer_unmerged,
    **ACTIVITY_HANDLERS,
    **CONTACT_HANDLERS,
}
