"""Before an account is disabled: the customers it still owns are handed over first, or counted in a refusal.

The customer service owns the customers, so the gateway asks it (`/internal/owners/{id}/customers`,
signed as the gateway) how many live customers the user owns. None: the account is disabled.
Some, and no `reassign_to`: 409 `user_owns_customers` with the count, and nothing changes. With
`reassign_to`, the hand-over (`POST /customers/reassign`, signed as the admin, so the customers'
owner history names them) runs first and the gateway waits for it, up to the upstream read
timeout; the account is disabled only once the user owns nothing. Whenever the customer service
cannot answer, the account stays as it was (502/503/504): a disabled owner nobody was warned
about is what this prevents.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from fastapi import Request

from crm_chassis.context import current_request_id
from crm_chassis.errors import Conflict, Unprocessable
from crm_chassis.identity import INTERNAL_HEADER, Principal, sign_internal_token
from crm_gateway.config import PUBLIC_PREFIX, Settings
from crm_gateway.proxy.errors import BadGateway, GatewayTimeout, upstream_failure

POLL_SECONDS = 0.1
DEFAULT_REASON = "the account manager's account was disabled"


def _headers(settings: Settings, principal: Principal) -> dict[str, str]:
    token = sign_internal_token(
        principal, settings.internal_secret.get_secret_value(), settings.internal_token_ttl_seconds
    )
    return {INTERNAL_HEADER: token, "X-Request-ID": current_request_id() or ""}


async def _call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> httpx.Response:
    try:
        return await client.request(method, path, headers=headers, **kwargs)
    except httpx.TransportError as exc:
        raise upstream_failure("customer", exc) from exc


def _json(response: httpx.Response, expected: int) -> dict[str, Any]:
    if response.status_code != expected:
        raise BadGateway(f"the customer service answered {response.status_code}", upstream="customer")
    body: dict[str, Any] = response.json()
    return body


async def owned(request: Request, user_id: uuid.UUID) -> int:
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.upstreams["customer"]
    response = await _call(
        client, "GET", f"/internal/owners/{user_id}/customers", _headers(settings, Principal.service("gateway"))
    )
    return int(_json(response, 200)["customers"])


def _owns(user_id: uuid.UUID, count: int) -> Conflict:
    return Conflict(
        f"user {user_id} still owns {count} customers: pass ?reassign_to=<user id> to hand them over first",
        code="user_owns_customers",
        customers=count,
    )


async def clear_customers(
    request: Request, principal: Principal, user_id: uuid.UUID, reassign_to: uuid.UUID | None, reason: str | None
) -> None:
    """Return once `user_id` owns no live customers; otherwise refuse (the account is left as it is)."""
    count = await owned(request, user_id)
    if count == 0:
        return
    if reassign_to is None:
        raise _owns(user_id, count)
    if reassign_to == user_id:
        raise Unprocessable.field("reassign_to", "same_owner", "must be another user than the one disabled")
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.upstreams["customer"]
    headers = _headers(settings, principal)
    body = {"from_owner_id": str(user_id), "to_owner_id": str(reassign_to), "reason": reason or DEFAULT_REASON}
    started = await _call(client, "POST", "/customers/reassign", headers, json=body)
    if started.status_code == 422:
        problem = started.json()
        code = str(problem.get("code", "validation_failed"))
        raise Unprocessable.field("reassign_to", code, str(problem.get("detail", "not a valid new owner")))
    job = _json(started, 202)
    location = f"/customers/reassign/{job['id']}"
    deadline = time.monotonic() + settings.upstream_read_timeout
    while job["status"] not in ("succeeded", "failed"):
        if time.monotonic() > deadline:
            raise GatewayTimeout(
                "the hand-over is still running; disable the account again once it has finished",
                code="handover_running",
                job=f"{PUBLIC_PREFIX}{location}",
            )
        await asyncio.sleep(POLL_SECONDS)
        job = _json(await _call(client, "GET", location, headers), 200)
    if job["status"] == "failed":
        raise BadGateway(
            f"the hand-over failed: {job.get('error_summary')}",
            code="handover_failed",
            job=f"{PUBLIC_PREFIX}{location}",
        )
    remaining = await owned(request, user_id)
    if remaining:  # given customers while the hand-over ran, or ones the admin cannot see
        raise _owns(user_id, remaining)
