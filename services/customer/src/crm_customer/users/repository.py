"""Every query on the read model of users."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_customer.users.models import UserRef


async def get(session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False) -> UserRef | None:
    stmt = select(UserRef).where(UserRef.id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def put(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    role: str,
    name: str,
    team_id: uuid.UUID | None,
    active: bool,
    version: int,
    at: datetime,
) -> bool:
    """Store the user's snapshot unless the stored one is as new or newer; whether it was stored."""
    current = await get(session, user_id, for_update=True)
    if current is not None and current.version >= version:
        return False
    if current is None:
        session.add(
            UserRef(id=user_id, role=role, name=name, team_id=team_id, active=active, version=version, updated_at=at)
        )
    else:
        current.role, current.name, current.team_id, current.active = role, name, team_id, active
        current.version, current.updated_at = version, at
    await session.flush()
    return True


async def names(session: AsyncSession, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(UserRef.id, UserRef.name).where(UserRef.id.in_(list(set(user_ids)))))
    return {user_id: name for user_id, name in rows}
