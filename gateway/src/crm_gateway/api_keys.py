"""API keys of partner systems: issued once, kept as SHA-256, found by their visible prefix."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.errors import NotFound, Unprocessable
from crm_chassis.pagination import paginate
from crm_gateway import security
from crm_gateway.models import ApiKey
from crm_gateway.schemas import ApiKeyCreate


async def create(session: AsyncSession, body: ApiKeyCreate, *, created_by: uuid.UUID | None) -> tuple[ApiKey, str]:
    """The new key and its secret, which is never stored and so can never be shown again."""
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise Unprocessable.field("expires_at", "in_the_past", "must be in the future")
    secret, prefix = security.new_api_key()
    key = ApiKey(
        name=body.name,
        prefix=prefix,
        key_hash=security.digest(secret),
        scopes=sorted(set(body.scopes)),
        created_by=created_by,
        expires_at=body.expires_at,
    )
    session.add(key)
    await session.flush()
    return key, secret


async def find_usable(session: AsyncSession, presented: str) -> ApiKey | None:
    """The live key `presented` is, or None (unknown, wrong secret, revoked or expired)."""
    prefix = security.api_key_prefix(presented)
    if prefix is None:
        return None
    key = (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar_one_or_none()
    if key is None or not security.same_digest(presented, key.key_hash):
        return None
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= utcnow()):
        return None
    return key


async def get(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist", code="api_key_not_found")
    return key


async def list_page(session: AsyncSession, *, limit: int, cursor: str | None) -> tuple[Sequence[ApiKey], str | None]:
    order = [(ApiKey.created_at, False), (ApiKey.id, False)]
    return await paginate(session, select(ApiKey), order, "created", limit, cursor)


async def revoke(session: AsyncSession, key_id: uuid.UUID) -> None:
    key = await get(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
