"""Events the customer service publishes (catalogue in docs/events.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.events import record_event
from crm_customer.db import infra

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
ORDER_REFUNDED = "order.refunded"
ORDER_UPDATED = "order.updated"
ORDER_DELETED = "order.deleted"
INTERACTION_LOGGED = "interaction.logged"
INTERACTION_UPDATED = "interaction.updated"
INTERACTION_DELETED = "interaction.deleted"


async def publish(session: AsyncSession, type: str, aggregate_id: Any, data: dict[str, Any], version: int) -> None:
    await record_event(session, infra.outbox, type, aggregate_id, data, version=version)
