"""Every query of signing in: the user behind a token, refresh tokens, revocations, failed sign-ins."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_gateway.auth.models import LoginFailure, RefreshToken, RevokedToken
from crm_gateway.users.models import UserAccount


async def user_for_token(
    session: AsyncSession, user_id: uuid.UUID, revocation_keys: list[str]
) -> tuple[UserAccount | None, bool]:
    """The user a token names and whether the token is revoked (any of `revocation_keys` is),
    in one round trip."""
    revoked = exists().where(RevokedToken.token_id.in_(revocation_keys))
    row = (
        await session.execute(select(UserAccount, revoked.label("revoked")).where(UserAccount.id == user_id))
    ).first()
    return (None, False) if row is None else (row[0], bool(row[1]))


async def add_refresh_token(
    session: AsyncSession, *, user_id: uuid.UUID, family_id: uuid.UUID, token_hash: str, expires_at: datetime
) -> None:
    session.add(RefreshToken(user_id=user_id, family_id=family_id, token_hash=token_hash, expires_at=expires_at))
    await session.flush()


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return (
        await session.execute(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    ).scalar_one_or_none()


async def claim_refresh_token(session: AsyncSession, token_id: uuid.UUID) -> bool:
    """Mark a refresh token as exchanged, unless it was exchanged or revoked already.

    A conditional update, so that of two concurrent uses of one token only one succeeds.
    """
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(rotated_at=utcnow())
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


async def revoke_refresh_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_refresh_tokens_of(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def add_revocation(session: AsyncSession, *, key: str, user_id: uuid.UUID | None, until: datetime) -> None:
    """Revoke `key` until `until`; entries already past their expiry are deleted on the way."""
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


async def lockouts(session: AsyncSession, keys: Iterable[str]) -> list[datetime | None]:
    """Until when each of the failure counters `keys` is locked (None: not locked)."""
    return list((await session.scalars(select(LoginFailure.locked_until).where(LoginFailure.key.in_(keys)))).all())


async def failure_counter(session: AsyncSession, key: str, *, now: datetime) -> LoginFailure:
    """The failure counter `key`, locked for update; a new one, added to the session, if there is none."""
    row = await session.get(LoginFailure, key, with_for_update=True)
    if row is None:
        row = LoginFailure(key=key, failures=0, window_started_at=now)
        session.add(row)
    return row


async def delete_failure_counter(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginFailure).where(LoginFailure.key == key))
