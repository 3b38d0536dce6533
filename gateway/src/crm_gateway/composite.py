"""`GET /customers/{id}/overview`: one read across the services, fetched in parallel.

The profile comes from the customer service and decides whether the customer exists for the
caller (404 otherwise, as every service answers for someone else's customer). Each other part
degrades on its own: a service that is down, slow or failing gives `{"unavailable": true}` and
the rest of the overview is still returned.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from crm_chassis.context import current_request_id
from crm_chassis.errors import AppError, NotFound
from crm_chassis.identity import INTERNAL_HEADER, sign_internal_token
from crm_gateway.config import SettingsDep
from crm_gateway.errors import upstream_failure
from crm_gateway.principals import AuthorisedDep
from crm_gateway.routing import PUBLIC_PREFIX

router = APIRouter(tags=["composite"])
PART_TIMEOUT = httpx.Timeout(3.0, connect=1.0)
UNAVAILABLE = {"unavailable": True}


class Overview(BaseModel):
    customer_id: uuid.UUID
    profile: dict[str, Any]
    scores: dict[str, Any] | None = Field(description="the score card; null before the customer is scored")
    open_complaints: dict[str, Any] | list[dict[str, Any]]
    satisfaction: dict[str, Any] | None = Field(description="the latest satisfaction measures; null if none")


async def _get(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await client.get(path, params=params or None, headers=headers, timeout=PART_TIMEOUT)


def _part(result: httpx.Response | BaseException, *, empty_on_404: bool = True) -> Any:
    if isinstance(result, BaseException) or result.status_code >= 500:
        return UNAVAILABLE
    if result.status_code == 404 and empty_on_404:
        return None
    if result.status_code != 200:
        return {**UNAVAILABLE, "status": result.status_code}
    return result.json()


@router.get(
    PUBLIC_PREFIX + "/customers/{customer_id}/overview",
    response_model=Overview,
    summary="Profile, score card, open complaints and latest satisfaction in one read",
)
async def overview(
    customer_id: uuid.UUID, request: Request, principal: AuthorisedDep, settings: SettingsDep
) -> Overview | JSONResponse:
    token = sign_internal_token(
        principal, settings.internal_secret.get_secret_value(), settings.internal_token_ttl_seconds
    )
    headers = {INTERNAL_HEADER: token, "X-Request-ID": current_request_id() or ""}
    clients: dict[str, httpx.AsyncClient] = request.app.state.upstreams
    results = await asyncio.gather(
        _get(clients["customer"], f"/customers/{customer_id}", headers),
        _get(clients["scoring"], f"/customers/{customer_id}/scores", headers),
        _get(clients["feedback"], "/complaints", headers, customer_id=str(customer_id), open="true", limit=50),
        _get(clients["feedback"], f"/analytics/satisfaction/customers/{customer_id}", headers),
        return_exceptions=True,
    )
    profile = results[0]
    if isinstance(profile, BaseException):
        if isinstance(profile, httpx.TransportError):
            raise upstream_failure("customer", profile) from profile
        raise profile
    if profile.status_code == 404:
        raise NotFound(f"customer {customer_id} does not exist", code="customer_not_found")
    if profile.status_code == 301:
        moved_to = profile.json().get("merged_into")
        return JSONResponse(
            profile.json(), status_code=301, headers={"Location": f"{PUBLIC_PREFIX}/customers/{moved_to}/overview"}
        )
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
