"""Access tokens stopped before they expire: after a logout, or when a stolen refresh token is reused.

An access token is a self-contained JWT, so stopping one early means remembering it until it would
have expired anyway. Two kinds of entry share one table and one key column:

- `jti:<id>`: one token, the one presented at logout, kept until its own `exp`;
- `sid:<family>`: every access token of a sign-in session (the `sid` claim is the refresh-token
  family), kept for one access-token lifetime, the longest any of them can still live.

Checking costs one primary-key probe, made in the same query that reads the user on every request.
Entries past their expiry are deleted whenever a new one is written, so the table holds only the
revocations of the last access-token lifetime.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_gateway.models import RevokedToken

# The leeway `security.decode_access_token` grants past `exp`.
LEEWAY = timedelta(seconds=5)


def token_key(jti: str) -> str:
    return f"jti:{jti}"


def session_key(family_id: uuid.UUID | str) -> str:
    return f"sid:{family_id}"


def keys_of(claims: dict[str, object]) -> list[str]:
    """The entries that would stop a token with these claims."""
    found = [token_key(str(claims["jti"]))]
    if claims.get("sid"):
        found.append(session_key(str(claims["sid"])))
    return found


def revoked(keys: list[str]) -> ColumnElement[bool]:
    """True when any of `keys` is revoked: an EXISTS to select along with the user."""
    return exists().where(RevokedToken.token_id.in_(keys))


async def revoke_token(session: AsyncSession, *, jti: str, user_id: uuid.UUID | None, expires_at: datetime) -> None:
    await _record(session, token_key(jti), user_id, expires_at + LEEWAY)


async def revoke_session(
    session: AsyncSession, *, family_id: uuid.UUID, user_id: uuid.UUID, access_token_ttl_seconds: int
) -> None:
    until = utcnow() + timedelta(seconds=access_token_ttl_seconds) + LEEWAY
    await _record(session, session_key(family_id), user_id, until)


async def _record(session: AsyncSession, key: str, user_id: uuid.UUID | None, until: datetime) -> None:
    now = utcnow()
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))
    values = {"token_id": key, "user_id": user_id, "revoked_at": now, "expires_at": until}
    # Logging out twice, or two replicas revoking one session at once, is not an error.
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(postgresql.insert(RevokedToken).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        await session.execute(sqlite.insert(RevokedToken).values(values).on_conflict_do_nothing())
    else:
        raise NotImplementedError(f"token revocation for {dialect}")
