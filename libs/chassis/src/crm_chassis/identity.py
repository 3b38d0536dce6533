"""The internal identity token: the gateway signs who is calling, every service verifies it.

A short-lived HS256 JWT in the `X-Internal-Token` header. Services refuse any request without a
valid one, so a service exposed by mistake is not an open door.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request

from crm_chassis.errors import Unauthorized

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


def verify_internal_token(token: str, secret: str) -> Principal:
    """The principal in a valid token; `Unauthorized` for anything forged, expired or malformed."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            leeway=5,
        )
        kind = claims.get("kind")
        if kind not in ("user", "api_key", "service"):
            raise jwt.InvalidTokenError("unknown principal kind")
        return Principal(
            subject=str(claims["sub"]),
            kind=kind,
            role=claims.get("role"),
            scopes=frozenset(claims.get("scopes") or ()),
            name=claims.get("name"),
            team=frozenset(claims.get("team") or ()),
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid internal identity token: {exc}", code="invalid_internal_token") from exc


def get_principal(request: Request) -> Principal:
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
