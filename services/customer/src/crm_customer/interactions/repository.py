"""Every query on the contact log."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.identity import Principal
from crm_chassis.pagination import Page, paginate
from crm_customer.customers import repository as customer_repo
from crm_customer.db import one_of
from crm_customer.interactions.models import Interaction
from crm_customer.interactions.schemas import InteractionFilters

ORDER = [(Interaction.occurred_at, True), (Interaction.id, True)]  # newest first


def live() -> ColumnElement[bool]:
    """Contact log entries not deleted."""
    return Interaction.deleted_at.is_(None)


async def get(session: AsyncSession, interaction_id: uuid.UUID) -> Interaction | None:
    return await session.scalar(select(Interaction).where(Interaction.id == interaction_id, live()))


def _filtered(filters: InteractionFilters, principal: Principal) -> Select[Any]:
    stmt = select(Interaction).where(live(), customer_repo.of_visible(principal, Interaction.customer_id))
    for name in ("customer_id", "owner_id", "channel", "direction"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Interaction, name) == value)
    if filters.occurred_after:
        stmt = stmt.where(Interaction.occurred_at >= filters.occurred_after)
    if filters.occurred_before:
        stmt = stmt.where(Interaction.occurred_at < filters.occurred_before)
    if filters.follow_up_before:
        stmt = stmt.where(
            Interaction.next_follow_up_date < filters.follow_up_before, Interaction.follow_up_done_at.is_(None)
        )
    return stmt


async def list_page(
    session: AsyncSession, filters: InteractionFilters, limit: int, cursor: str | None, principal: Principal
) -> Page[Interaction]:
    return await paginate(session, _filtered(filters, principal), ORDER, "-occurred_at", limit, cursor)


async def open_follow_ups(
    session: AsyncSession, customer_id: uuid.UUID, *, up_to: datetime, other_than: uuid.UUID
) -> Sequence[Interaction]:
    """The customer's live contacts up to `up_to` whose follow-up is still open, oldest first."""
    stmt = (
        select(Interaction)
        .where(
            Interaction.customer_id == customer_id,
            Interaction.next_follow_up_date.is_not(None),
            Interaction.follow_up_done_at.is_(None),
            Interaction.occurred_at <= up_to,
            Interaction.id != other_than,
            live(),
        )
        .order_by(Interaction.occurred_at, Interaction.id)
    )
    return (await session.scalars(stmt)).all()


async def logged(
    session: AsyncSession, customer_ids: Collection[uuid.UUID], occurred_ats: Collection[datetime]
) -> Sequence[Interaction]:
    """The live entries of these customers at these times (an import chunk's candidates for a repeat)."""
    stmt = select(Interaction).where(
        one_of(Interaction.customer_id, customer_ids), one_of(Interaction.occurred_at, occurred_ats), live()
    )
    return (await session.scalars(stmt)).all()


async def erase_for_customer(session: AsyncSession, customer_id: uuid.UUID, placeholder: str, now: datetime) -> None:
    """Replace what the customer's entries say by `placeholder` (when and how they were stays)."""
    await session.execute(
        update(Interaction)
        .where(Interaction.customer_id == customer_id)
        .values(summary=placeholder, outcome=None, updated_at=now)
    )
