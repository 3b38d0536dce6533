"""Signing in: access and refresh tokens for people, and the bearer-token check of every request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.errors import TooManyRequests, Unauthorized
from crm_chassis.identity import Principal
from crm_gateway import lockout, refresh_tokens, revocation, security
from crm_gateway import repository as user_repository
from crm_gateway import service as user_service
from crm_gateway.config import Settings, SettingsDep
from crm_gateway.db import SessionDep
from crm_gateway.models import UserAccount
from crm_gateway.schemas import RefreshRequest, TokenResponse, UserRead

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="crm"'}
INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="crm", error="invalid_token"'}


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required", code="not_authenticated", headers=BEARER_CHALLENGE)
    return token.strip()


def _claims(token: str, settings: Settings) -> dict[str, Any]:
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
    claims = _claims(_bearer_token(request), settings)
    # Read on every request so that disabling an account or signing out takes effect before the
    # token expires; the revocation check rides along in the same query.
    async with request.app.state.read_sessionmaker() as session:
        user, revoked = await user_repository.get_for_token(session, claims["sub"], revocation.keys_of(claims))
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
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
LOGIN_CLASS = "auth.login"


def _limit_by_address(request: Request) -> None:
    """Sign-in routes are called before anyone is known, so their budget is the client address's."""
    from crm_gateway.principals import apply_rate_limit  # principals builds on this module

    apply_rate_limit(request, f"address:{request.state.client_address}", LOGIN_CLASS)


async def _tokens(
    session: AsyncSession, settings: Settings, user: UserAccount, *, family_id: uuid.UUID, refresh: str | None
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


@router.post(
    "/token",
    response_model=TokenResponse,
    openapi_extra={"security": []},
    responses={401: {"description": "Wrong email or password"}, 429: {"description": "Too many attempts"}},
)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    settings: SettingsDep,
) -> TokenResponse:
    """Exchange an email (as `username`) and password for an access token and a refresh token.

    Repeated failures lock the account and the client address for a while (429), whether or not
    the account exists.
    """
    _limit_by_address(request)
    address = request.state.client_address
    writer = request.app.state.sessionmaker
    if wait := await lockout.locked_for(request.app.state.read_sessionmaker, form.username, address):
        raise TooManyRequests(
            "too many failed sign-ins; try again later", code="login_locked", headers={"Retry-After": str(wait)}
        )
    # Transactions of its own, one after the other: on SQLite a request-long write transaction
    # would block the failure count that has to be written before answering 401.
    async with writer.begin() as session:
        user = await user_service.authenticate(session, email=form.username, password=form.password)
        tokens = await _tokens(session, settings, user, family_id=uuid.uuid4(), refresh=None) if user else None
    if user is None or tokens is None:
        await lockout.record_failure(writer, settings, form.username, address)
        raise Unauthorized("wrong email or password", code="invalid_credentials", headers=BEARER_CHALLENGE)
    await lockout.record_success(writer, form.username)
    request.state.principal = Principal(subject=str(user.id), kind="user", role=user.role.value, name=user.email)
    return tokens


@router.post(
    "/refresh",
    response_model=TokenResponse,
    openapi_extra={"security": []},
    responses={401: {"description": "Unknown, expired, revoked or reused refresh token"}},
)
async def refresh(body: RefreshRequest, request: Request, settings: SettingsDep) -> TokenResponse:
    """Exchange a refresh token for new tokens. Each refresh token works once; using one twice
    ends the whole sign-in session."""
    _limit_by_address(request)
    # Its own transaction: a reuse must revoke the family even though the answer is 401.
    async with request.app.state.sessionmaker.begin() as session:
        rotation = await refresh_tokens.rotate(
            session, body.refresh_token, ttl_seconds=settings.refresh_token_ttl_seconds
        )
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
            request.state.principal = Principal(
                subject=str(user.id), kind="user", role=user.role.value, name=user.email
            )
            return await _tokens(session, settings, user, family_id=rotation.family_id, refresh=rotation.token)
    raise Unauthorized(
        "the refresh token is not valid; sign in again", code="invalid_refresh_token", headers=INVALID_TOKEN_CHALLENGE
    )


@router.post("/logout", status_code=204, openapi_extra={"security": []})
async def logout(body: RefreshRequest, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """End a sign-in session at once: its refresh tokens and every access token issued in it stop
    working. An access token sent in `Authorization` stops too, whichever session it is from."""
    _limit_by_address(request)
    found = await refresh_tokens.revoke_token_family(session, body.refresh_token)
    if found is not None:
        await revocation.revoke_session(
            session,
            family_id=found.family_id,
            user_id=found.user_id,
            access_token_ttl_seconds=settings.access_token_ttl_seconds,
        )
    if request.headers.get("authorization"):
        try:
            claims = _claims(_bearer_token(request), settings)
        except Unauthorized:
            claims = None  # nothing to stop: logout answers 204 whatever it is given
        if claims is not None:
            expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
            await revocation.revoke_token(session, jti=str(claims["jti"]), user_id=claims["sub"], expires_at=expires_at)
    return Response(status_code=204)


@router.get("/me", response_model=UserRead)
async def read_me(request: Request, user: UserDep) -> UserAccount:
    """The signed-in user."""
    request.state.principal = Principal(subject=str(user.id), kind="user", role=user.role.value, name=user.email)
    return user
