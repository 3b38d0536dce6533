"""Events about user accounts, written to the gateway's outbox with the change (docs/events.md).

The services keep a read model of users from them: who may own customers or approve concessions,
and the names to show beside the ids.
"""

from __future__ import annotations

from typing import Any

from crm_chassis.events import record_event
from crm_gateway.db import Session, infra
from crm_gateway.users.models import Role, UserAccount

USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_DISABLED = "user.disabled"
TYPES = (USER_CREATED, USER_UPDATED, USER_DISABLED)


def team_of(user: UserAccount) -> str | None:
    """The team a user belongs to, named by its manager: an agent's manager, a manager's own id."""
    if user.role == Role.manager:
        return str(user.id)
    if user.role == Role.agent and user.manager_id is not None:
        return str(user.manager_id)
    return None


def snapshot(user: UserAccount) -> dict[str, Any]:
    """What the services may know of a user: no email, no credentials."""
    return {
        "id": str(user.id),
        "role": user.role.value,
        "name": user.name,
        "team": team_of(user),
        "active": user.is_active,
    }


async def publish(session: Session, type: str, user: UserAccount, **extra: Any) -> None:
    await record_event(session, infra.outbox, type, user.id, {**snapshot(user), **extra}, version=user.version)
