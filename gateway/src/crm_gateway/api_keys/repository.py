"""Every query on API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import Page, paginate
from crm_gateway.api_keys.models import ApiKey


async def add(
    session: AsyncSession,
    *,
    name: str,
    prefix: str,
    key_hash: str,
    scopes: list[str],
    created_by: uuid.UUID | None,
    expires_at: datetime | None,
) -> ApiKey:
    key = ApiKey(
        name=name, prefix=prefix, key_hash=key_hash, scopes=scopes, created_by=created_by, expires_at=expires_at
    )
    session.add(key)
    await session.flush()
    return key


async def get_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    return (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar_one_or_none()


async def get_by_id(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def list_page(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[ApiKey]:
    order = [(ApiKey.created_at, False), (ApiKey.id, False)]
    return await paginate(session, select(ApiKey), order, "created", limit, cursor)


async def set_last_used(session: AsyncSession, key_id: uuid.UUID, at: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))
