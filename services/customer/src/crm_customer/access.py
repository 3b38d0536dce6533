"""Object- and field-level access: who may see which customers, and which of their fields.

The gateway decides which routes a role or API key may call; this service decides which
customers: an agent sees the customers they manage, a manager their team's, others all. A
customer someone may not see answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, true

from crm_chassis.identity import Principal, visible_owners

PII_SCOPE = "customers:pii"
PII_FIELDS: dict[str, Any] = {
    "email": None,
    "phone": None,
    "other_contacts": [],
    "address": None,
    "birth_date": None,
    "taboos": [],
    "notes": None,
    "personality_notes": None,
}


def owner_clause(principal: Principal, owner_column: Any) -> ColumnElement[bool]:
    owners = visible_owners(principal)
    return true() if owners is None else owner_column.in_(owners)


def can_see(principal: Principal, owner_id: uuid.UUID | None) -> bool:
    owners = visible_owners(principal)
    return owners is None or owner_id in owners


def masks_pii(principal: Principal) -> bool:
    """Partner keys see personal fields only with the customers:pii scope."""
    return principal.kind == "api_key" and PII_SCOPE not in principal.scopes


def default_owner(principal: Principal, requested: uuid.UUID | None) -> uuid.UUID | None:
    """An agent's new customer is theirs; an agent cannot hand one to someone else."""
    if principal.role != "agent":
        return requested
    owners = visible_owners(principal) or frozenset()
    me = next(iter(owners), None)
    if requested not in (None, me):
        from crm_chassis.errors import Forbidden

        raise Forbidden("an account manager can only create customers they manage", code="owner_not_allowed")
    return me


def visible_customer_ids(principal: Principal) -> Any:
    """A subquery of the customer ids the caller may see, or None when they may see all."""
    owners = visible_owners(principal)
    if owners is None:
        return None
    from sqlalchemy import select

    from crm_customer.customers.models import Customer

    return select(Customer.id).where(Customer.owner_id.in_(owners))


async def require_visible_customer(session: Any, principal: Principal, customer_id: uuid.UUID, what: str) -> None:
    """404 for a record whose customer the caller may not see (as if the record did not exist)."""
    if visible_owners(principal) is None:
        return
    from sqlalchemy import select

    from crm_chassis.errors import NotFound
    from crm_customer.customers.models import Customer

    owner = await session.scalar(select(Customer.owner_id).where(Customer.id == customer_id))
    if not can_see(principal, owner):
        raise NotFound(f"{what} does not exist", code=f"{what.split()[0]}_not_found")
