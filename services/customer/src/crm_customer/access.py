"""Object- and field-level access: who may see which customers, and which of their fields.

The gateway decides which routes a role or API key may call; this service decides which
customers: an agent sees the customers they manage, a manager their team's, others all. A
customer someone may not see answers 404, exactly like one that does not exist. The same rule
as a query is `customers.repository.visible`.
"""

from __future__ import annotations

import uuid
from typing import Any

from crm_chassis.errors import Forbidden, NotFound
from crm_chassis.identity import Principal, visible_owners
from crm_customer.customers import repository as customer_repo
from crm_customer.db import Session

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

# An organisation's contacts are people too: the same scope opens their personal fields.
CONTACT_PII_FIELDS: dict[str, Any] = {"email": None, "phone": None, "notes": None}


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
        raise Forbidden("an account manager can only create customers they manage", code="owner_not_allowed")
    return me


async def require_visible_customer(session: Session, principal: Principal, customer_id: uuid.UUID, what: str) -> None:
    """404 for a record whose customer the caller may not see (as if the record did not exist)."""
    if visible_owners(principal) is None:
        return
    if not can_see(principal, await customer_repo.owner_of(session, customer_id)):
        raise NotFound(f"{what} does not exist", code=f"{what.split()[0]}_not_found")
