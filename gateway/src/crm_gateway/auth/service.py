"""Signing in, refreshing and signing out: the rules behind `/api/v1/auth`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from crm_chassis.errors import TooManyRequests, Unauthorized
from crm_gateway.auth import lockout, refresh_tokens, revocation, security
from crm_gateway.auth.bearer import BEARER_CHALLENGE, INVALID_TOKEN_CHALLENGE
from crm_gateway.auth.schemas import TokenResponse
from crm_gateway.config import Settings
from crm_gateway.db import Session, Sessionmaker
from crm_gateway.users import repository as user_repository
from crm_gateway.users.models import UserAccount


async def authenticate(session: Session, *, email: str, password: str) -> UserAccount | None:
    """The active user with these credentials, or None; the same work is done whichever part is wrong."""
    user = await user_repository.get_by_email(session, email)
    if not security.verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None
    if not user.is_active:
        return None
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    return user


async def issue_tokens(
    session: Session, settings: Settings, user: UserAccount, *, family_id: uuid.UUID, refresh: str | None
) -> TokenResponse:
    """An access token of the sign-in session `family_id` (its `sid`, by which logout stops every
    access token of the session), with the refresh token, a new session's first when None."""
    issued = security.issue_access_token(
        str(user.id),
        settings.jwt_secret.get_secret_value(),
        settings.access_token_ttl_seconds,
        role=user.role.value,
        sid=str(family_id),
    )
    if refresh is None:
        refresh = await refresh_tokens.issue(
            session, user_id=user.id, ttl_seconds=settings.refresh_token_ttl_seconds, family_id=family_id
        )
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in, refresh_token=refresh)


async def sign_in(
    writer: Sessionmaker,
    reader: Sessionmaker,
    settings: Settings,
    *,
    email: str,
    password: str,
    address: str | None,
) -> tuple[UserAccount, TokenResponse]:
    """The user and a new sign-in session's tokens; 429 while locked out, 401 for wrong credentials.

    Repeated failures lock the account and the client address for a while, whether or not the
    account exists.
    """
    if wait := await lockout.locked_for(reader, email, address):
        raise TooManyRequests(
            "too many failed sign-ins; try again later", code="login_locked", headers={"Retry-After": str(wait)}
        )
    # Transactions of its own, one after the other: on SQLite a request-long write transaction
    # would block the failure count that has to be written before answering 401.
    async with writer.begin() as session:
        user = await authenticate(session, email=email, password=password)
        tokens = await issue_tokens(session, settings, user, family_id=uuid.uuid4(), refresh=None) if user else None
    if user is None or tokens is None:
        await lockout.record_failure(writer, settings, email, address)
        raise Unauthorized("wrong email or password", code="invalid_credentials", headers=BEARER_CHALLENGE)
    await lockout.record_success(writer, email)
    return user, tokens


async def refresh(writer: Sessionmaker, settings: Settings, token: str) -> tuple[UserAccount, TokenResponse]:
    """The user and new tokens for a refresh token; 401 for one unknown, expired, revoked or reused.

    A reused token (a copy) ends the whole sign-in session, its access tokens included.
    """
    # Its own transaction: a reuse must revoke the family even though the answer is 401.
    async with writer.begin() as session:
        rotation = await refresh_tokens.rotate(session, token, ttl_seconds=settings.refresh_token_ttl_seconds)
        if rotation.problem == "reused" and rotation.family_id and rotation.user_id:
            # A copied refresh token: the access tokens of the session stop as well as its refresh tokens.
            await revocation.revoke_session(
                session,
                family_id=rotation.family_id,
                user_id=rotation.user_id,
                access_token_ttl_seconds=settings.access_token_ttl_seconds,
            )
        user = await user_repository.get_by_id(session, rotation.user_id) if rotation.user_id else None
        if user is not None and user.is_active and rotation.token and rotation.family_id:
            tokens = await issue_tokens(session, settings, user, family_id=rotation.family_id, refresh=rotation.token)
            return user, tokens
    raise Unauthorized(
        "the refresh token is not valid; sign in again", code="invalid_refresh_token", headers=INVALID_TOKEN_CHALLENGE
    )


async def logout(
    session: Session, settings: Settings, *, refresh_token: str, access_claims: dict[str, Any] | None
) -> None:
    """End the sign-in session of `refresh_token`, its access tokens included, and stop the access
    token with `access_claims` too, whichever session it is from."""
    found = await refresh_tokens.revoke_token_family(session, refresh_token)
    if found is not None:
        await revocation.revoke_session(
            session,
            family_id=found.family_id,
            user_id=found.user_id,
            access_token_ttl_seconds=settings.access_token_ttl_seconds,
        )
    if access_claims is not None:
        expires_at = datetime.fromtimestamp(int(access_claims["exp"]), UTC)
        await revocation.revoke_token(
            session, jti=str(access_claims["jti"]), user_id=access_claims["sub"], expires_at=expires_at
        )
