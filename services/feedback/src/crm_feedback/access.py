"""Object-level access: an agent sees the feedback of the customers they manage, a manager their
team's; another customer's complaint or record answers 404 like a missing one. Owners come from
the customer service's events (`customer_ref.owner_id`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.errors import NotFound
from crm_chassis.identity import Principal, visible_owners
from crm_feedback.readmodel.models import CustomerRef


def customer_clause(principal: Principal, customer_column: Any) -> ColumnElement[bool]:
    """Rows whose customer the caller may see (a row without a customer only for unrestricted callers)."""
    owners = visible_owners(principal)
    if owners is None:
        return true()
    visible: ColumnElement[bool] = customer_column.in_(select(CustomerRef.id).where(CustomerRef.owner_id.in_(owners)))
    return visible


async def can_see_customer(session: AsyncSession, principal: Principal, customer_id: uuid.UUID | None) -> bool:
    owners = visible_owners(principal)
    if owners is None:
        return True
    if customer_id is None:
        return False
    owner = await session.scalar(select(CustomerRef.owner_id).where(CustomerRef.id == customer_id))
    return owner in owners


async def require_visible(
    session: AsyncSession, principal: Principal, customer_id: uuid.UUID | None, what: str
) -> None:
    if not await can_see_customer(session, principal, customer_id):
        raise NotFound(f"{what} does not exist", code=f"{what.split()[0]}_not_found")
