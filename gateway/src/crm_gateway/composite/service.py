"""The customer overview: one read across the services, fetched in parallel.

The profile comes from the customer service and decides whether the customer exists for the
caller (404 otherwise, as every service answers for someone else's customer). Each other part
degrades on its own: a service that is down, slow or failing gives `{"unavailable": true}` and
the rest of the overview is still returned. A part the caller may not read through its own route
(by `auth.permissions`, as the proxy decides) is not asked for and gives `{"forbidden": true}`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from crm_chassis.errors import AppError, NotFound
from crm_chassis.identity import Principal
from crm_gateway.auth import permissions
from crm_gateway.composite.schemas import Forbidden, Overview, Unavailable
from crm_gateway.config import PUBLIC_PREFIX
from crm_gateway.proxy.errors import upstream_failure

PART_TIMEOUT = httpx.Timeout(3.0, connect=1.0)


@dataclass(frozen=True)
class Moved:
    """The customer was merged into another: the customer service's answer, and where to look now."""

    body: Any
    location: str


async def _get(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await client.get(path, params=params or None, headers=headers, timeout=PART_TIMEOUT)


def _part(result: httpx.Response | _Refused | BaseException, *, empty_on_404: bool = True) -> Any:
    if isinstance(result, _Refused):
        return Forbidden()
    if isinstance(result, BaseException) or result.status_code >= 500:
        return Unavailable()
    if result.status_code == 404 and empty_on_404:
        return None
    if result.status_code != 200:
        return Unavailable(status=result.status_code)
    return result.json()


class _Refused:
    """A part the caller may not read through its own route: not asked for."""


REFUSED = _Refused()


async def _get_allowed(
    principal: Principal, client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> httpx.Response | _Refused:
    """The part at the service path `path`, if its own route's rule lets the caller read it."""
    route_class = permissions.classify("GET", path.removeprefix("/").split("/"))
    allowed = route_class is not None and permissions.allows(
        route_class, role=principal.role, scopes=principal.scopes, kind=principal.kind
    )
    return await _get(client, path, headers, **params) if allowed else REFUSED


async def overview(
    clients: Mapping[str, httpx.AsyncClient],
    customer_id: uuid.UUID,
    *,
    headers: dict[str, str],
    principal: Principal,
) -> Overview | Moved:
    """Profile, score card, open complaints and latest satisfaction of a customer, asked for at once.

    Each part is read only when the caller could read it through its own route (role or scope);
    a refused part is `{"forbidden": true}`."""
    results = await asyncio.gather(
        _get_allowed(principal, clients["customer"], f"/customers/{customer_id}", headers),
        _get_allowed(principal, clients["scoring"], f"/customers/{customer_id}/scores", headers),
        _get_allowed(
            principal, clients["feedback"], "/complaints", headers, customer_id=str(customer_id), open="true", limit=50
        ),
        _get_allowed(principal, clients["feedback"], f"/analytics/satisfaction/customers/{customer_id}", headers),
        return_exceptions=True,
    )
    profile = results[0]
    if isinstance(profile, _Refused):  # the overview's own route class is the profile's: not reached
        raise NotFound(f"customer {customer_id} does not exist", code="customer_not_found")
    if isinstance(profile, BaseException):
        if isinstance(profile, httpx.TransportError):
            raise upstream_failure("customer", profile) from profile
        raise profile
    if profile.status_code == 404:
        raise NotFound(f"customer {customer_id} does not exist", code="customer_not_found")
    if profile.status_code == 301:
        moved_to = profile.json().get("merged_into")
        return Moved(profile.json(), f"{PUBLIC_PREFIX}/customers/{moved_to}/overview")
    if profile.status_code != 200:
        raise AppError(f"the customer service answered {profile.status_code}", code="upstream_error")
    complaints = _part(results[2], empty_on_404=False)
    return Overview(
        customer_id=customer_id,
        profile=profile.json(),
        scores=_part(results[1]),
        open_complaints=complaints["items"] if isinstance(complaints, dict) and "items" in complaints else complaints,
        satisfaction=_part(results[3]),
    )
