"""Keeps `user_ref` in step with the gateway's `user.*` events (docs/events.md)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from crm_chassis.consumer import Handler
from crm_chassis.events import Event
from crm_customer.db import Session
from crm_customer.users import repository as user_repo


class UserFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    role: str
    name: str
    team: uuid.UUID | None = None
    active: bool


async def apply_user(session: Session, event: Event) -> None:
    """created, updated and disabled all carry the whole snapshot: the newest version wins."""
    facts = UserFacts.model_validate(event.data)
    await user_repo.put(
        session,
        user_id=facts.id,
        role=facts.role,
        name=facts.name,
        team_id=facts.team,
        active=facts.active,
        version=event.version,
        at=event.occurred_at,
    )


USER_HANDLERS: Mapping[str, Handler] = {
    "user.created": apply_user,
    "user.updated": apply_user,
    "user.disabled": apply_user,
}
