"""The contact log: every contact with a customer, feeding care cadence in scoring."""

from __future__ import annotations

import uuid
from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_chassis.patching import changes_of
from crm_customer import access, events
from crm_customer.customers import repository as customer_repo
from crm_customer.db import Session
from crm_customer.interactions import repository as interaction_repo
from crm_customer.interactions.models import Interaction
from crm_customer.interactions.schemas import InteractionCreate, InteractionFilters, InteractionUpdate


def event_data(item: Interaction) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "customer_id": str(item.customer_id),
        "occurred_at": item.occurred_at.isoformat(),
        "channel": item.channel,
        "direction": item.direction,
        "owner_id": None if item.owner_id is None else str(item.owner_id),
        "summary": item.summary,
        "outcome": item.outcome,
        "next_follow_up_date": None if item.next_follow_up_date is None else item.next_follow_up_date.isoformat(),
        "follow_up_done": item.follow_up_done_at is not None,
        "closes_follow_up": item.closes_follow_up,
    }


def _caller_id(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


async def log(session: Session, *, data: InteractionCreate, principal: Principal) -> Interaction:
    visible = access.can_see(principal, await customer_repo.owner_of(session, data.customer_id))
    if not visible or not await customer_repo.exists_active(session, data.customer_id):
        message = f"no customer {data.customer_id}"
        raise Unprocessable(message, errors=[{"field": "customer_id", "code": "unknown_customer", "message": message}])
    if data.next_follow_up_date is not None and data.next_follow_up_date < data.occurred_at.date():
        message = "the next follow-up cannot precede the contact"
        raise Unprocessable(
            message, errors=[{"field": "next_follow_up_date", "code": "before_contact", "message": message}]
        )
    now = utcnow()
    fields = data.model_dump(mode="python")
    fields["owner_id"] = fields["owner_id"] or _caller_id(principal)
    item = Interaction(id=uuid.uuid4(), created_at=now, updated_at=now, **fields)
    session.add(item)
    await session.flush()
    await events.publish(session, events.INTERACTION_LOGGED, item.id, event_data(item), item.version)
    if item.closes_follow_up:
        for earlier in await interaction_repo.open_follow_ups(
            session, item.customer_id, up_to=item.occurred_at, other_than=item.id
        ):
            await _mark_done(session, earlier, by=f"interaction {item.id}")
    return item


async def _mark_done(session: Session, item: Interaction, *, by: str) -> None:
    item.follow_up_done_at = item.updated_at = utcnow()
    item.follow_up_done_by = by[:200]
    await session.flush()
    await events.publish(session, events.INTERACTION_UPDATED, item.id, event_data(item), item.version)


async def complete_follow_up(session: Session, *, item: Interaction, principal: Principal) -> Interaction:
    """Mark the contact's follow-up done; done already, it stays as it was (no new version)."""
    if item.next_follow_up_date is None:
        raise Conflict(f"interaction {item.id} has no follow-up", code="no_follow_up")
    if item.follow_up_done_at is None:
        await _mark_done(session, item, by=principal.subject)
    return item


async def get(session: Session, *, interaction_id: uuid.UUID, principal: Principal) -> Interaction:
    item = await interaction_repo.get(session, interaction_id)
    if item is None:
        raise NotFound(f"interaction {interaction_id} does not exist", code="interaction_not_found")
    await access.require_visible_customer(session, principal, item.customer_id, f"interaction {interaction_id}")
    return item


async def update(session: Session, *, item: Interaction, data: InteractionUpdate) -> Interaction:
    changes = changes_of(data, not_nullable=("occurred_at", "channel", "direction", "summary"))
    if "next_follow_up_date" in changes and changes["next_follow_up_date"] != item.next_follow_up_date:
        item.follow_up_done_at = item.follow_up_done_by = None  # a new follow-up date is a new follow-up
    for name, value in changes.items():
        setattr(item, name, value)
    item.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.INTERACTION_UPDATED, item.id, event_data(item), item.version)
    return item


async def delete(session: Session, *, item: Interaction) -> None:
    item.deleted_at = item.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.INTERACTION_DELETED, item.id, event_data(item), item.version)


async def list_page(
    session: Session, *, filters: InteractionFilters, limit: int, cursor: str | None, principal: Principal
) -> Page[Interaction]:
    return await interaction_repo.list_page(session, filters, limit, cursor, principal)
