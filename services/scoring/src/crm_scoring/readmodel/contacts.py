"""Organisations' contact persons from the customer service's `contact.*` events, kept by id.

Only what key-customer care needs is kept: which organisation, which person (when the contact is a
customer) and whether they are a senior leader there. An event applies only when its version is
newer than the one kept; the persons concerned (before and after) are queued for re-scoring.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from crm_chassis.consumer import Handler
from crm_chassis.events import Event
from crm_scoring.db import Session
from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.readmodel.models import ContactFact
from crm_scoring.scores import service as score_service

SENIOR_LEADER = "senior_leader"


class ContactFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    organization_id: uuid.UUID
    customer_id: uuid.UUID | None = None
    roles: list[str] = []


async def _apply(session: Session, event: Event, *, removed: bool) -> None:
    facts = ContactFacts.model_validate(event.data)
    row = await fact_repo.get_contact(session, facts.id, for_update=True)
    if row is not None and row.version >= event.version:
        return
    before = None if row is None else row.customer_id
    if row is None:
        row = ContactFact(id=facts.id, version=event.version)
        session.add(row)
    row.organization_id, row.customer_id = facts.organization_id, facts.customer_id
    row.senior_leader, row.removed = SENIOR_LEADER in facts.roles, removed
    row.version = event.version
    for person in {before, facts.customer_id} - {None}:
        await score_service.request(session, person)  # type: ignore[arg-type]


async def on_contact_changed(session: Session, event: Event) -> None:
    await _apply(session, event, removed=False)


async def on_contact_removed(session: Session, event: Event) -> None:
    await _apply(session, event, removed=True)


CONTACT_HANDLERS: Mapping[str, Handler] = {
    "contact.added": on_contact_changed,
    "contact.updated": on_contact_changed,
    "contact.removed": on_contact_removed,
}
