"""The contact log: every contact with a customer, feeding care cadence in scoring."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.errors import NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.pagination import paginate
from crm_customer import access, events
from crm_customer.customers import repository as customer_repo
from crm_customer.interactions.models import Interaction
from crm_customer.interactions.schemas import InteractionCreate, InteractionFilters, InteractionUpdate

ORDER = [(Interaction.occurred_at, True), (Interaction.id, True)]


def event_data(item: Interaction) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "customer_id": str(item.customer_id),
        "occurred_at": item.occurred_at.isoformat(),
        "channel": item.channel,
        "direction": item.direction,
        "owner_id": None if item.owner_id is None else str(item.owner_id),
        "outcome": item.outcome,
        "next_follow_up_date": None if item.next_follow_up_date is None else item.next_follow_up_date.isoformat(),
    }


def _caller_id(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


async def log(session: AsyncSession, *, data: InteractionCreate, principal: Principal) -> Interaction:
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
    return item


async def get(session: AsyncSession, *, interaction_id: uuid.UUID, principal: Principal) -> Interaction:
    item = await session.scalar(
        select(Interaction).where(Interaction.id == interaction_id, Interaction.deleted_at.is_(None))
    )
    if item is None:
        raise NotFound(f"interaction {interaction_id} does not exist", code="interaction_not_found")
    await access.require_visible_customer(session, principal, item.customer_id, f"interaction {interaction_id}")
    return item


async def update(session: AsyncSession, *, item: Interaction, data: InteractionUpdate) -> Interaction:
    changes = data.model_dump(exclude_unset=True, mode="python")
    for name in ("occurred_at", "channel", "direction", "summary"):
        if name in changes and changes[name] is None:
            raise Unprocessable(
                f"{name} cannot be cleared",
                errors=[{"field": name, "code": "required", "message": "required"}],
            )
    for name, value in changes.items():
        setattr(item, name, value)
    item.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.INTERACTION_UPDATED, item.id, event_data(item), item.version)
    return item


async def delete(session: AsyncSession, *, item: Interaction) -> None:
    item.deleted_at = item.updated_at = utcnow()
    await session.flush()
    await events.publish(session, events.INTERACTION_DELETED, item.id, event_data(item), item.version)


def _filtered(filters: InteractionFilters, principal: Principal) -> Select[Any]:
    stmt = select(Interaction).where(Interaction.deleted_at.is_(None))
    visible = access.visible_customer_ids(principal)
    if visible is not None:
        stmt = stmt.where(Interaction.customer_id.in_(visible))
    for name in ("customer_id", "owner_id", "channel", "direction"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Interaction, name) == value)
    if filters.occurred_after:
        stmt = stmt.where(Interaction.occurred_at >= filters.occurred_after)
    if filters.occurred_before:
        stmt = stmt.where(Interaction.occurred_at < filters.occurred_before)
    if filters.follow_up_before:
        stmt = stmt.where(Interaction.next_follow_up_date < filters.follow_up_before)
    return stmt


async def list_page(
    session: AsyncSession, *, filters: InteractionFilters, limit: int, cursor: str | None, principal: Principal
) -> tuple[list[Interaction], str | None]:
    return await paginate(session, _filtered(filters, principal), ORDER, "-occurred_at", limit, cursor)
