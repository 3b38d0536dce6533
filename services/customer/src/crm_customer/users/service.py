"""Who may own customers and approve concessions, by the read model of users.

The read model follows the gateway's events, so it can lag a moment behind: a user created a
second ago may not be in it yet. The caller's own identity token is as good as the gateway's word
(it is signed per request from the current account), so an account manager naming themselves, or
a manager naming a member of their team, is accepted before the event arrives. Anyone else must be
known: an id the read model has never seen is refused like a disabled user or a wrong role.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from crm_chassis.errors import Unprocessable
from crm_chassis.identity import Principal
from crm_customer.db import Session
from crm_customer.users import repository as user_repo

OWNER_ROLES = frozenset({"agent", "manager"})
APPROVER_ROLES = frozenset({"manager", "admin"})


def _vouched_for(principal: Principal, user_id: uuid.UUID, roles: frozenset[str]) -> bool:
    """Whether the caller's token itself proves `user_id` is an active user of one of `roles`."""
    if principal.kind != "user":
        return False
    if str(user_id) == principal.subject:
        return principal.role in roles
    # A manager's team in the token: the gateway's current list of their active agents.
    return principal.role == "manager" and "agent" in roles and str(user_id) in principal.team


async def _check(
    session: Session, principal: Principal, user_id: uuid.UUID, roles: frozenset[str], field: str, what: str
) -> None:
    if _vouched_for(principal, user_id, roles):
        return
    user = await user_repo.get(session, user_id)
    if user is None:
        why = "is not a known user (a user created a moment ago may not have reached this service yet)"
    elif not user.active:
        why = "is a disabled user"
    elif user.role not in roles:
        why = f"is a user with role {user.role}"
    else:
        return
    code = f"invalid_{what}"
    wanted = " or ".join(sorted(roles))
    message = f"{user_id} {why}; the {what} must be an active {wanted}"
    raise Unprocessable(
        f"invalid input: {field}: {message}", code=code, errors=[{"field": field, "code": code, "message": message}]
    )


async def check_owner(session: Session, principal: Principal, owner_id: uuid.UUID) -> None:
    """422 `invalid_owner` unless the user is an active agent or manager."""
    await _check(session, principal, owner_id, OWNER_ROLES, "owner_id", "owner")


async def check_approver(session: Session, principal: Principal, approver_id: uuid.UUID) -> None:
    """422 `invalid_approver` unless the user is an active manager or admin."""
    await _check(session, principal, approver_id, APPROVER_ROLES, "approver_id", "approver")


async def names(session: Session, user_ids: Collection[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Display names of the users among `user_ids` that this service knows."""
    return await user_repo.names(session, {u for u in user_ids if u is not None})
