"""Object-level access: an agent sees the feedback of the customers they manage, a manager their
team's; another customer's complaint or record answers 404 like a missing one. Owners come from
the customer service's events (`customer_ref.owner_id`); lists filter with
`readmodel.repository.visible_to`."""

from __future__ import annotations

import uuid

from crm_chassis.errors import NotFound
from crm_chassis.identity import Principal, visible_owners
from crm_feedback.db import Session
from crm_feedback.readmodel import repository as customer_repo


async def can_see_customer(session: Session, principal: Principal, customer_id: uuid.UUID | None) -> bool:
    owners = visible_owners(principal)
    if owners is None:
        return True
    if customer_id is None:
        return False
    return await customer_repo.owner_of(session, customer_id) in owners


def can_see_creator(principal: Principal, creator: str | None) -> bool:
    """Whether the caller may see a record that names no customer, by who made it."""
    owners = visible_owners(principal)
    return owners is None or (creator is not None and creator in {str(owner) for owner in owners})


async def can_see_record(
    session: Session, principal: Principal, customer_id: uuid.UUID | None, creator: str | None
) -> bool:
    """A record of a customer follows the customer; one of no customer follows its creator."""
    if customer_id is None:
        return can_see_creator(principal, creator)
    return await can_see_customer(session, principal, customer_id)


async def require_visible(session: Session, principal: Principal, customer_id: uuid.UUID | None, what: str) -> None:
    if not await can_see_customer(session, principal, customer_id):
        raise NotFound(f"{what} does not exist", code=f"{what.split()[0]}_not_found")
