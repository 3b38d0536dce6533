"""Who is calling: bearer tokens for people, issued by `POST /api/v1/auth/token`."""

from __future__ import annotations

import uuid
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from crm_chassis.errors import Unauthorized
from crm_gateway import repository as user_repository
from crm_gateway import security
from crm_gateway import service as user_service
from crm_gateway.config import SettingsDep
from crm_gateway.db import SessionDep
from crm_gateway.models import UserAccount
from crm_gateway.schemas import TokenResponse, UserRead

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


@router.post(
    "/token",
    response_model=TokenResponse,
    openapi_extra={"security": []},
    responses={401: {"description": "Wrong email or password"}},
)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> TokenResponse:
    """Exchange an email (as `username`) and password for a bearer access token."""
    user = await user_service.authenticate(session, email=form.username, password=form.password)
    if user is None:
        raise Unauthorized("wrong email or password", code="invalid_credentials", headers=BEARER_CHALLENGE)
    issued = security.issue_access_token(
        str(user.id),
        settings.jwt_secret.get_secret_value(),
        settings.access_token_ttl_seconds,
        role=user.role.value,
    )
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)


@router.get("/me", response_model=UserRead)
async def read_me(user: UserDep) -> UserAccount:
    """The signed-in user."""
    return user
