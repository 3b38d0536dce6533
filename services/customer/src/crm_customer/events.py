"""Events the customer service publishes (catalogue in docs/events.md)."""

from __future__ import annotations

from typing import Any

from crm_chassis.events import record_event, record_events
from crm_customer.db import Session, infra

CUSTOMER_CREATED = "customer.created"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_DELETED = "customer.deleted"
CUSTOMER_OWNER_CHANGED = "customer.owner_changed"
CUSTOMER_MERGED = "customer.merged"
CUSTOMER_ERASED = "customer.erased"
CUSTOMER_UNMERGED = "customer.unmerged"
ORDER_RECORDED = "order.recorded"
CONTACT_ADDED = "contact.added"
CONTACT_UPDATED = "contact.updated"
CONTACT_REMOVED = "contact.removed"
POINTS_CHANGED = "points.changed"
CONCESSION_GRANTED = "concession.granted"
CUSTOMER_TIER_CHANGED = "customer.tier_changed"
ORDER_REFUNDED = "order.refunded"
ORDER_UPDATED = "order.updated"
ORDER_DELETED = "order.deleted"
INTERACTION_LOGGED = "interaction.logged"
INTERACTION_UPDATED = "interaction.updated"
INTERACTION_DELETED = "interaction.deleted"
IMPORT_FINISHED = "import.finished"
EXPORT_FINISHED = "export.finished"
CAMPAIGN_STARTED = "campaign.started"
CAMPAIGN_RESPONSE_RECORDED = "campaign.response_recorded"
CAMPAIGN_FINISHED = "campaign.finished"


async def publish(session: Session, type: str, aggregate_id: Any, data: dict[str, Any], version: int) -> None:
    await record_event(session, infra.outbox, type, aggregate_id, data, version=version)


async def publish_many(session: Session, type: str, events: list[tuple[Any, dict[str, Any], int]]) -> None:
    """Events of one type for many aggregates, each (id, data, version), with one bulk insert."""
    await record_events(session, infra.outbox, type, events)
