"""The internal identity token: the gateway signs who is calling, every service verifies it.

A short-lived HS256 JWT in the `X-Internal-Token` header. Services refuse any request without a
valid one, so a service exposed by mistake is not an open door.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request

from crm_chassis.errors import Unauthorized
from crm_chassis.memo import ExpiringMemo

INTERNAL_HEADER = "X-Internal-Token"
ISSUER = "crm-gateway"
AUDIENCE = "crm-internal"
ALGORITHM = "HS256"

PrincipalKind = Literal["user", "api_key", "service"]


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: PrincipalKind
    role: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None
    # For a manager: the ids of the agents in their team (the gateway knows the org chart).
    team: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def service(cls, name: str) -> Principal:
        return cls(subject=f"service:{name}", kind="service", role="service", name=name)

    @property
    def is_admin(self) -> bool:
        return self.role in {"admin", "service"}


def sign_internal_token(principal: Principal, secret: str, ttl_seconds: int = 60) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": principal.subject,
        "kind": principal.kind,
        "role": principal.role,
        "scopes": sorted(principal.scopes),
        "name": principal.name,
        "team": sorted(principal.team),
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


LEEWAY_SECONDS = 5


def _verified_claims(token: str, secret: str) -> tuple[Principal, int]:
    """The principal in a valid token and its `exp`; `Unauthorized` for anything forged, expired or malformed."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            leeway=LEEWAY_SECONDS,
        )
        kind = claims.get("kind")
        if kind not in ("user", "api_key", "service"):
            raise jwt.InvalidTokenError("unknown principal kind")
        principal = Principal(
            subject=str(claims["sub"]),
            kind=kind,
            role=claims.get("role"),
            scopes=frozenset(claims.get("scopes") or ()),
            name=claims.get("name"),
            team=frozenset(claims.get("team") or ()),
        )
        return principal, int(claims["exp"])
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid internal identity token: {exc}", code="invalid_internal_token") from exc


def verify_internal_token(token: str, secret: str) -> Principal:
    """The principal in a valid token; `Unauthorized` for anything forged, expired or malformed."""
    return _verified_claims(token, secret)[0]


class VerifiedTokens:
    """Internal tokens this process has verified, each remembered until it expires.

    The gateway sends the same token for a principal's calls for a quarter of its life
    (`crm_gateway/proxy/signing.py`), so a service would otherwise check the same signature on
    every request. A remembered token is accepted exactly as long as verifying it again would
    accept it (until `exp` plus the leeway); a token that fails verification is never remembered.
    """

    def __init__(self, secret: str, clock: Callable[[], float] = time.time, max_entries: int = 10_000) -> None:
        self.secret = secret
        self.clock = clock
        self.memo: ExpiringMemo[str, Principal] = ExpiringMemo(max_entries)

    def principal(self, token: str) -> Principal:
        now = self.clock()
        known = self.memo.get(token, now)
        if known is not None:
            return known
        principal, expires = _verified_claims(token, self.secret)
        self.memo.put(token, principal, until=expires + LEEWAY_SECONDS, now=now)
        return principal


async def get_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:  # only reachable on a public path, which must not ask for a principal
        raise Unauthorized("no caller identity", code="missing_internal_token")
    assert isinstance(principal, Principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def visible_owners(principal: Principal) -> frozenset[uuid.UUID] | None:
    """The account managers whose customers the caller may see; None means every customer.

    An agent sees the customers they manage, a manager their own and their team's; everyone
    else (admins, analysts for aggregates, partner keys within their scopes, services) all.
    """
    if principal.role == "agent":
        ids = {_as_uuid(principal.subject)}
    elif principal.role == "manager":
        ids = {_as_uuid(principal.subject), *(_as_uuid(member) for member in principal.team)}
    else:
        return None
    return frozenset(i for i in ids if i is not None)
