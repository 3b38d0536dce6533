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

from crm_chassis.db import utcnow
from crm_gateway.auth import repository as auth_repository
from crm_gateway.db import Session

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


async def revoke_token(session: Session, *, jti: str, user_id: uuid.UUID | None, expires_at: datetime) -> None:
    await auth_repository.add_revocation(session, key=token_key(jti), user_id=user_id, until=expires_at + LEEWAY)


async def revoke_session(
    session: Session, *, family_id: uuid.UUID, user_id: uuid.UUID, access_token_ttl_seconds: int
) -> None:
    until = utcnow() + timedelta(seconds=access_token_ttl_seconds) + LEEWAY
    await auth_repository.add_revocation(session, key=session_key(family_id), user_id=user_id, until=until)
