"""Who is calling and whether they may: the dependency every public route of the gateway goes through.

Authentication (a bearer token for people, `X-API-Key` for partners, nobody for the one public
route), then the route class and the role/scope check of `permissions`, then the rate limit of
that principal in that class. The outcome is the `Principal` the internal token will carry.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from crm_chassis.errors import Forbidden, NotFound, TooManyRequests, Unauthorized
from crm_chassis.identity import Principal
from crm_gateway.api_keys import service as api_key_service
from crm_gateway.auth import permissions
from crm_gateway.auth.bearer import current_user
from crm_gateway.auth.ratelimit import RateLimiter, limit_class
from crm_gateway.config import PUBLIC_PREFIX, Settings
from crm_gateway.proxy import routing
from crm_gateway.users import repository as user_repository
from crm_gateway.users.models import Role, UserAccount

API_KEY_CHALLENGE = {"WWW-Authenticate": 'ApiKey realm="crm", Bearer realm="crm"'}
ANONYMOUS_RESPONDENT = "anonymous-survey-respondent"


def service_segments(request: Request) -> list[str]:
    """The path below /api/v1 as segments (what routing and permissions reason about)."""
    return routing.split_path(request.url.path.removeprefix(PUBLIC_PREFIX)) or []


async def user_principal(request: Request, user: UserAccount) -> Principal:
    team: frozenset[str] = frozenset()
    if user.role == Role.manager:
        # Read on every request, like the user: a reassigned agent leaves the team at once.
        async with request.app.state.read_sessionmaker() as session:
            team = frozenset(str(agent) for agent in await user_repository.team_of(session, user.id))
    return Principal(subject=str(user.id), kind="user", role=user.role.value, name=user.email, team=team)


async def _key_principal(request: Request, settings: Settings, presented: str) -> Principal:
    async with request.app.state.read_sessionmaker() as session:
        key = await api_key_service.find_usable(session, presented)
    if key is None:
        raise Unauthorized(
            "the API key is unknown, revoked or expired", code="invalid_api_key", headers=API_KEY_CHALLENGE
        )
    await api_key_service.record_use(
        request.app.state.sessionmaker, key, interval_seconds=settings.api_key_touch_interval_seconds
    )
    return Principal(subject=str(key.id), kind="api_key", role=None, scopes=frozenset(key.scopes), name=key.name)


async def authenticate(request: Request) -> Principal:
    settings: Settings = request.app.state.settings
    if request.headers.get("authorization"):
        return await user_principal(request, await current_user(request, settings))
    presented_key = request.headers.get("x-api-key")
    if presented_key:
        return await _key_principal(request, settings, presented_key.strip())
    if permissions.is_public(request.method, service_segments(request)):
        return Principal(
            subject=ANONYMOUS_RESPONDENT,
            kind="api_key",
            role=None,
            scopes=frozenset({"surveys:respond"}),
            name="anonymous survey respondent",
        )
    return await user_principal(request, await current_user(request, settings))  # answers 401


def rate_limit_key(principal: Principal, request: Request) -> str:
    if principal.subject == ANONYMOUS_RESPONDENT:
        return f"address:{request.state.client_address}"
    return f"{principal.kind}:{principal.subject}"


async def apply_rate_limit(request: Request, principal_key: str, route_class: str) -> None:
    """Spend one request of the caller's budget in `route_class`; 429 when it is spent."""
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limits
    decision = await limiter.acquire(principal_key, route_class, settings.rate_limit_for(route_class))
    request.state.rate_limit_headers = decision.headers()
    if not decision.allowed:
        raise TooManyRequests(
            f"too many requests in {route_class}; retry in {decision.retry_after_seconds} s",
            headers=decision.headers(),
            route_class=route_class,
        )


async def authorise(request: Request) -> Principal:
    """The caller, if they may call this route: 401 unknown, 403 not allowed, 404 no route, 429 too many.

    Decided once per request: when the idempotency middleware had to know the caller before the
    route ran, the route gets the same answer without a second lookup or rate-limit charge.
    """
    decided: Principal | None = getattr(request.state, "authorised_principal", None)
    if decided is not None:
        return decided
    principal = await authenticate(request)
    request.state.principal = principal
    segments = service_segments(request)
    route_class = permissions.classify(request.method, segments, request.query_params)
    if route_class is None:
        if routing.resolve("/".join(segments)) is None:
            raise NotFound(f"no resource at {request.url.path}", code="route_not_found")
        raise Forbidden("no one may call this route", code="route_not_allowed")
    if not permissions.allows(route_class, role=principal.role, scopes=principal.scopes, kind=principal.kind):
        raise _refusal(principal, route_class)
    limited_as = limit_class(request.method, segments, route_class)
    await apply_rate_limit(request, rate_limit_key(principal, request), limited_as)
    request.state.authorised_principal = principal
    return principal


def _refusal(principal: Principal, route_class: str) -> Forbidden:
    if principal.kind != "api_key":
        return Forbidden(f"the {principal.role} role may not use {route_class}", code="role_not_allowed")
    scope = permissions.CLASSES[route_class].scope
    if scope is None:
        return Forbidden(f"partner keys may not use {route_class}", code="scope_not_allowed")
    return Forbidden(f"this key lacks the {scope} scope", code="insufficient_scope", required_scope=scope)


AuthorisedDep = Annotated[Principal, Depends(authorise)]


def actor_id(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.subject) if principal.kind == "user" else None
    except ValueError:
        return None
