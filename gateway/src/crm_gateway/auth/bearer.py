"""The bearer-token check: a valid access token, not revoked, naming an active user."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from crm_chassis.errors import Unauthorized
from crm_gateway.auth import repository as auth_repository
from crm_gateway.auth import revocation, security
from crm_gateway.auth.cache import AuthCache
from crm_gateway.config import Settings, SettingsDep
from crm_gateway.users.models import UserAccount

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="crm"'}
INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="crm", error="invalid_token"'}


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required", code="not_authenticated", headers=BEARER_CHALLENGE)
    return token.strip()


def claims_of(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a valid access token, `sub` as a UUID; 401 for anything else."""
    try:
        claims = security.decode_access_token(token, settings.jwt_secret.get_secret_value())
        claims["sub"] = uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthorized(
            "the access token is invalid or has expired",
            code="invalid_token",
            headers=INVALID_TOKEN_CHALLENGE,
        ) from exc
    return claims


async def current_user(request: Request, settings: SettingsDep) -> UserAccount:
    """The active user named by a valid access token that has not been revoked.

    Looked up in a short session of its own rather than the request's, so that no database
    connection stays checked out while a proxied request waits for its upstream.
    """
    token = bearer_token(request)
    # Checked at most `auth_cache_seconds` ago (auth/cache.py), so that disabling an account or
    # signing out takes effect before the token expires; the revocation check rides along. Only
    # a token that decoded as valid is remembered, and for at most that second.
    cache: AuthCache = request.app.state.auth_cache
    answer = cache.get(token)
    if answer is None:
        claims = claims_of(token, settings)
        fetched_at = cache.now()
        async with request.app.state.read_sessionmaker() as session:
            answer = await auth_repository.user_for_token(session, claims["sub"], revocation.keys_of(claims))
        cache.put(token, answer, fetched_at)
    user, revoked = answer
    if user is None or not user.is_active:
        raise Unauthorized(
            "the account is unknown or disabled", code="account_disabled", headers=INVALID_TOKEN_CHALLENGE
        )
    if revoked:
        raise Unauthorized(
            "the access token was revoked (signed out); sign in again",
            code="token_revoked",
            headers=INVALID_TOKEN_CHALLENGE,
        )
    return user


UserDep = Annotated[UserAccount, Depends(current_user)]
