"""API keys of partner systems: issued once, kept as SHA-256, found by their visible prefix."""

from __future__ import annotations

import uuid
from datetime import timedelta

from crm_chassis.db import utcnow
from crm_chassis.errors import NotFound, Unprocessable
from crm_gateway.api_keys import repository as api_key_repository
from crm_gateway.api_keys.models import ApiKey
from crm_gateway.api_keys.schemas import ApiKeyCreate
from crm_gateway.auth import security
from crm_gateway.db import Session, Sessionmaker


async def create(session: Session, body: ApiKeyCreate, *, created_by: uuid.UUID | None) -> tuple[ApiKey, str]:
    """The new key and its secret, which is never stored and so can never be shown again."""
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise Unprocessable.field("expires_at", "in_the_past", "must be in the future")
    secret, prefix = security.new_api_key()
    key = await api_key_repository.add(
        session,
        name=body.name,
        prefix=prefix,
        key_hash=security.digest(secret),
        scopes=sorted(set(body.scopes)),
        created_by=created_by,
        expires_at=body.expires_at,
    )
    return key, secret


async def find_usable(session: Session, presented: str) -> ApiKey | None:
    """The live key `presented` is, or None (unknown, wrong secret, revoked or expired)."""
    prefix = security.api_key_prefix(presented)
    if prefix is None:
        return None
    key = await api_key_repository.get_by_prefix(session, prefix)
    if key is None or not security.same_digest(presented, key.key_hash):
        return None
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= utcnow()):
        return None
    return key


async def record_use(sessionmaker: Sessionmaker, key: ApiKey, *, interval_seconds: int) -> None:
    """Record last use, at most once per interval: a write per partner call would cost more than it tells."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < timedelta(seconds=interval_seconds):
        return
    async with sessionmaker.begin() as session:
        await api_key_repository.set_last_used(session, key.id, now)


async def get(session: Session, key_id: uuid.UUID) -> ApiKey:
    key = await api_key_repository.get_by_id(session, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist", code="api_key_not_found")
    return key


async def revoke(session: Session, key_id: uuid.UUID) -> None:
    key = await get(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
