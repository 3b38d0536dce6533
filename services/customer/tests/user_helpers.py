"""Users known to the customer service: apply the gateway's user events through the real handler."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from crm_chassis.events import Event
from crm_customer.users.handlers import USER_HANDLERS

_versions: dict[str, int] = {}


async def known_user(
    sessionmaker: Any,
    user_id: str | uuid.UUID | None = None,
    *,
    role: str = "agent",
    name: str = "Li Na",
    active: bool = True,
    team: str | None = None,
    type: str = "user.created",
    version: int | None = None,
) -> str:
    """Apply one `user.*` event as the gateway would send it; the user's id."""
    user_id = str(user_id or uuid.uuid4())
    version = version if version is not None else _versions.get(user_id, 0) + 1
    _versions[user_id] = max(version, _versions.get(user_id, 0))
    event = Event(
        id=uuid.uuid4(),
        seq=1,
        type=type,
        occurred_at=datetime.now(UTC),
        aggregate_id=user_id,
        version=version,
        data={"id": user_id, "role": role, "name": name, "team": team, "active": active},
    )
    async with sessionmaker.begin() as session:
        await USER_HANDLERS[type](session, event)
    return user_id
