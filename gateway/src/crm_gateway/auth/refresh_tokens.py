"""Refresh tokens: opaque, stored as SHA-256, rotated on every use, revoked by family.

A sign-in starts a family; each refresh replaces the presented token with a new one of the same
family. A token presented after it was replaced can only come from a copy, so the whole family is
revoked: the thief and the victim both have to sign in again, and the thief cannot.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from crm_chassis.db import utcnow
from crm_gateway.auth import repository as auth_repository
from crm_gateway.auth import security
from crm_gateway.auth.models import RefreshToken
from crm_gateway.db import Session


@dataclass(frozen=True)
class Rotation:
    """The outcome of presenting a refresh token: a successor, or why there is none."""

    user_id: uuid.UUID | None
    token: str | None
    problem: str | None  # unknown | expired | revoked | reused
    family_id: uuid.UUID | None = None


async def issue(session: Session, *, user_id: uuid.UUID, ttl_seconds: int, family_id: uuid.UUID | None = None) -> str:
    token = security.new_refresh_token()
    await auth_repository.add_refresh_token(
        session,
        user_id=user_id,
        family_id=family_id or uuid.uuid4(),
        token_hash=security.digest(token),
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    return token


async def _find(session: Session, token: str) -> RefreshToken | None:
    return await auth_repository.refresh_token_by_hash(session, security.digest(token))


async def rotate(session: Session, token: str, *, ttl_seconds: int) -> Rotation:
    """Exchange `token` for its successor; a reused token revokes its family (commit either way)."""
    found = await _find(session, token)
    if found is None:
        return Rotation(None, None, "unknown")
    if found.revoked_at is not None:
        return Rotation(found.user_id, None, "revoked", found.family_id)
    if not await auth_repository.claim_refresh_token(session, found.id):
        await revoke_family(session, found.family_id)
        return Rotation(found.user_id, None, "reused", found.family_id)
    if found.expires_at <= utcnow():
        return Rotation(found.user_id, None, "expired", found.family_id)
    successor = await issue(session, user_id=found.user_id, ttl_seconds=ttl_seconds, family_id=found.family_id)
    return Rotation(found.user_id, successor, None, found.family_id)


async def revoke_family(session: Session, family_id: uuid.UUID) -> None:
    await auth_repository.revoke_refresh_family(session, family_id)


async def revoke_token_family(session: Session, token: str) -> RefreshToken | None:
    """Sign out: the session the token belongs to ends, whatever state the token is in. The token
    found (its family and user), or None for a token never issued."""
    found = await _find(session, token)
    if found is not None:
        await revoke_family(session, found.family_id)
    return found


async def revoke_for_user(session: Session, user_id: uuid.UUID) -> None:
    await auth_repository.revoke_refresh_tokens_of(session, user_id)
