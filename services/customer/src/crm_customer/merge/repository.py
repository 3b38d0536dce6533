"""Every query on merges, and the moves of the records that follow a customer into a merge.

The moves touch orders, the contact log, contacts, points, concessions and referrals alike: one
statement shape over the tables that point at a customer, kept here beside the merge that needs it.
A tier set by hand is one row per customer, keyed by the customer: it moves by its tier.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_customer.contacts.models import Contact
from crm_customer.customers.models import Customer
from crm_customer.interactions.models import Interaction
from crm_customer.loyalty.models import Concession, ManualTier, PointsEntry
from crm_customer.merge.models import CustomerMerge
from crm_customer.orders.models import Order

# Records that follow the customer: kind -> (model, the column naming the customer).
MOVABLE: dict[str, tuple[Any, Any]] = {
    "orders": (Order, Order.customer_id),
    "interactions": (Interaction, Interaction.customer_id),
    "contacts_held": (Contact, Contact.organization_id),
    "contacts_as_person": (Contact, Contact.person_id),
    "points": (PointsEntry, PointsEntry.customer_id),
    "concessions": (Concession, Concession.customer_id),
    "referrals": (Customer, Customer.referred_by),
}


async def get(session: AsyncSession, merge_id: uuid.UUID) -> CustomerMerge | None:
    return await session.get(CustomerMerge, merge_id)


async def ids_held(session: AsyncSession, kind: str, customer_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of the customer's records of this kind."""
    model, column = MOVABLE[kind]
    return list((await session.scalars(select(model.id).where(column == customer_id))).all())


async def move(
    session: AsyncSession,
    kind: str,
    ids: Collection[uuid.UUID],
    *,
    to: uuid.UUID,
    held_by: uuid.UUID | None = None,
) -> None:
    """Point these records of this kind at customer `to` (only those still held by `held_by`, if given)."""
    model, column = MOVABLE[kind]
    stmt = update(model).where(model.id.in_(ids))
    if held_by is not None:
        stmt = stmt.where(column == held_by)
    await session.execute(stmt.values({column.key: to}))


async def manual_tier_id(session: AsyncSession, customer_id: uuid.UUID) -> uuid.UUID | None:
    """The tier set by hand for the customer, if any."""
    return await session.scalar(select(ManualTier.tier_id).where(ManualTier.customer_id == customer_id))


async def move_manual_tier(session: AsyncSession, tier_id: uuid.UUID, *, held_by: uuid.UUID, to: uuid.UUID) -> None:
    """Give customer `to` the tier `held_by` holds by hand, if that is still `tier_id` (with who set
    it, when and why)."""
    await session.execute(
        update(ManualTier)
        .where(ManualTier.customer_id == held_by, ManualTier.tier_id == tier_id)
        .values(customer_id=to)
        .execution_options(synchronize_session=False)
    )
