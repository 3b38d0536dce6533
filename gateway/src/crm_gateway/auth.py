"""Signing in: access and refresh tokens for people, and the bearer-token check of every request."""

from __future__ import annotations

import uuid
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.errors import TooManyRequests, Unauthorized
from crm_chassis.identity import Principal
from crm_gateway import lockout, refresh_tokens, security
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


async def current_user(request: Request, settings: SettingsDep) -> UserAccount:
    """The active user named by a valid access token.

    Looked up in a short session of its own rather than the request's, so that no database
    connection stays checked out while a proxied request waits for its upstream.
    """
    token = _bearer_token(request)
    try:
        claims = security.decode_access_token(token, settings.jwt_secret.get_secret_value())
        user_id = uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthorized(
            "the access token is invalid or has expired",
            code="invalid_token",
            headers=INVALID_TOKEN_CHALLENGE,
        ) from exc
    # Read on every request so that disabling an account takes effect before its tokens expire.
    async with request.app.state.read_sessionmaker() as session:
        user = await user_repository.get_by_id(session, user_id)
    if user is None or not user.is_active:
        raise Unauthorized(
            "the account is unknown or disabled", code="account_disabled", headers=INVALID_TOKEN_CHALLENGE
        )
    return user


UserDep = Annotated[UserAccount, Depends(current_user)]
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
LOGIN_CLASS = "auth.login"


def _limit_by_address(request: Request) -> None:
    """Sign-in routes are called before anyone is known, so their budget is the client address's."""
    from crm_gateway.principals import apply_rate_limit  # principals builds on this module

    apply_rate_limit(request, f"address:{request.state.client_address}", LOGIN_CLASS)


async def _tokens(session: AsyncSession, settings: Settings, user: UserAccount, refresh: str | None) -> TokenResponse:
    issued = security.issue_access_token(
        str(user.id),
        settings.jwt_secret.get_secret_value(),
        settings.access_token_ttl_seconds,
        role=user.role.value,
    )
    if refresh is None:
        refresh = await refresh_tokens.issue(session, user_id=user.id, ttl_seconds=settings.refresh_token_ttl_seconds)
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
        tokens = await _tokens(session, settings, user, None) if user is not None else None
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
        user = await user_repository.get_by_id(session, rotation.user_id) if rotation.user_id else None
        if user is not None and user.is_active and rotation.token:
            request.state.principal = Principal(
                subject=str(user.id), kind="user", role=user.role.value, name=user.email
            )
            return await _tokens(session, settings, user, rotation.token)
    raise Unauthorized(
        "the refresh token is not valid; sign in again", code="invalid_refresh_token", headers=INVALID_TOKEN_CHALLENGE
    )


@router.post("/logout", status_code=204, openapi_extra={"security": []})
async def logout(body: RefreshRequest, request: Request, session: SessionDep) -> Response:
    """End a sign-in session: its refresh tokens stop working (access tokens expire within minutes)."""
    _limit_by_address(request)
    await refresh_tokens.revoke_token_family(session, body.refresh_token)
    return Response(status_code=204)


@router.get("/me", response_model=UserRead)
async def read_me(request: Request, user: UserDep) -> UserAccount:
    """The signed-in user."""
    request.state.principal = Principal(subject=str(user.id), kind="user", role=user.role.value, name=user.email)
    return user
