"""`/api/v1/auth`: sign in for access and refresh tokens, refresh them, sign out, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from crm_chassis.errors import Unauthorized
from crm_chassis.identity import Principal
from crm_gateway.auth import service as auth_service
from crm_gateway.auth.bearer import UserDep, bearer_token, claims_of
from crm_gateway.auth.principals import apply_rate_limit
from crm_gateway.auth.schemas import RefreshRequest, TokenResponse
from crm_gateway.config import PUBLIC_PREFIX, SettingsDep
from crm_gateway.db import SessionDep
from crm_gateway.users.models import UserAccount
from crm_gateway.users.schemas import UserRead

router = APIRouter(prefix=PUBLIC_PREFIX + "/auth", tags=["auth"])
LOGIN_CLASS = "auth.login"


async def _limit_by_address(request: Request) -> None:
    """Sign-in routes are called before anyone is known, so their budget is the client address's."""
    await apply_rate_limit(request, f"address:{request.state.client_address}", LOGIN_CLASS)


def _user_principal(user: UserAccount) -> Principal:
    return Principal(subject=str(user.id), kind="user", role=user.role.value, name=user.email)


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
    await _limit_by_address(request)
    user, tokens = await auth_service.sign_in(
        request.app.state.sessionmaker,
        request.app.state.read_sessionmaker,
        settings,
        email=form.username,
        password=form.password,
        address=request.state.client_address,
    )
    request.state.principal = _user_principal(user)
    return tokens


@router.post(
    "/refresh",
    response_model=TokenResponse,
    openapi_extra={"security": []},
    responses={401: {"description": "Unknown, expired, revoked or reused refresh token"}},
)
async def refresh_tokens(body: RefreshRequest, request: Request, settings: SettingsDep) -> TokenResponse:
    """Exchange a refresh token for new tokens. Each refresh token works once; using one twice
    ends the whole sign-in session."""
    await _limit_by_address(request)
    user, tokens = await auth_service.refresh(request.app.state.sessionmaker, settings, body.refresh_token)
    request.state.principal = _user_principal(user)
    return tokens


@router.post("/logout", status_code=204, openapi_extra={"security": []})
async def logout(body: RefreshRequest, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """End a sign-in session at once: its refresh tokens and every access token issued in it stop
    working. An access token sent in `Authorization` stops too, whichever session it is from."""
    await _limit_by_address(request)
    claims = None
    if request.headers.get("authorization"):
        try:
            claims = claims_of(bearer_token(request), settings)
        except Unauthorized:
            claims = None  # nothing to stop: logout answers 204 whatever it is given
    await auth_service.logout(session, settings, refresh_token=body.refresh_token, access_claims=claims)
    return Response(status_code=204)


@router.get("/me", response_model=UserRead)
async def read_me(request: Request, user: UserDep) -> UserAccount:
    """The signed-in user."""
    request.state.principal = _user_principal(user)
    return user
