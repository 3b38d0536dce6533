"""`/api/v1/admin/dead-letters/{service}`: every process's parked items, for admins.

`gateway` is answered here from the gateway's own schema (its webhook followers); `customer`,
`scoring` and `feedback` are forwarded to the service's `/admin/dead-letters`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from crm_chassis.dead_letters import (
    DeadLetter,
    Retry,
    discard_dead_letter,
    event_retry,
    list_dead_letters,
    retry_dead_letter,
)
from crm_chassis.errors import AppError
from crm_chassis.identity import sign_internal_token
from crm_chassis.pagination import Page, PageDep
from crm_gateway.auth.principals import AuthorisedDep
from crm_gateway.config import PUBLIC_PREFIX, SettingsDep
from crm_gateway.db import infra
from crm_gateway.proxy.errors import upstream_failure
from crm_gateway.webhooks import feeds

router = APIRouter(prefix=PUBLIC_PREFIX + "/admin/dead-letters", tags=["operations"])
UPSTREAM_FAILURES: dict[int | str, dict[str, Any]] = {
    502: {"description": "The service failed to answer properly"},
    504: {"description": "The service did not answer in time"},
}
Service = Literal["gateway", "customer", "scoring", "feedback"]
# Consumer and worker names: `customer-events`, `webhooks-scoring`, `rescore`.
Consumer = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,99}$")]


class UpstreamProblem(AppError):
    """A service's own problem answer, passed on as it came."""

    def __init__(self, status: int, body: dict[str, object]) -> None:
        super().__init__(str(body.get("detail", "")), code=str(body.get("code", "upstream_error")))
        self.status = status


async def _call(
    request: Request, settings: SettingsDep, principal: AuthorisedDep, service: str, method: str, path: str
) -> httpx.Response:
    client: httpx.AsyncClient = request.app.state.upstreams[service]
    token = sign_internal_token(
        principal, settings.internal_secret.get_secret_value(), settings.internal_token_ttl_seconds
    )
    try:
        response = await client.request(
            method, path, params=dict(request.query_params), headers={"X-Internal-Token": token}
        )
    except httpx.TransportError as exc:
        raise upstream_failure(service, exc) from exc
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {}
        raise UpstreamProblem(response.status_code, body if isinstance(body, dict) else {})
    return response


def _retries(request: Request) -> dict[str, Retry]:
    handlers = feeds.handlers(request.app.state.settings, request.app.state.webhook_runtime)
    return {name: event_retry(by_type) for name, by_type in handlers.items()}


@router.get("/{service}", response_model=Page[DeadLetter], responses=UPSTREAM_FAILURES)
async def list_parked_items(
    request: Request,
    settings: SettingsDep,
    principal: AuthorisedDep,
    service: Service,
    page: PageDep,
    consumer: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{0,99}$")] = None,
) -> Page[DeadLetter] | Response:
    """Items a worker of `service` parked after failing on them, newest first, with the error and
    the number of attempts."""
    if service == "gateway":
        async with request.app.state.read_sessionmaker() as session:
            return await list_dead_letters(session, infra, consumer=consumer, limit=page.limit, cursor=page.cursor)
    answer = await _call(request, settings, principal, service, "GET", "/admin/dead-letters")
    return Response(answer.content, media_type="application/json")


@dataclass(frozen=True)
class ParkedItem:
    """The parked item a path names: which service's consumer parked which event."""

    service: Service
    consumer: Consumer
    event_id: uuid.UUID

    @property
    def path(self) -> str:
        """Its path in the owning service's admin API."""
        return f"/admin/dead-letters/{self.consumer}/{self.event_id}"


async def parked_item(service: Service, consumer: Consumer, event_id: uuid.UUID) -> ParkedItem:
    return ParkedItem(service, consumer, event_id)


ItemDep = Annotated[ParkedItem, Depends(parked_item)]


@router.post("/{service}/{consumer}/{event_id}/retry", status_code=204, responses=UPSTREAM_FAILURES)
async def retry_parked_item(
    request: Request, settings: SettingsDep, principal: AuthorisedDep, item: ItemDep
) -> Response:
    """Process the item again: removed when it succeeds; 409 `retry_failed` (and one attempt more) when not."""
    if item.service == "gateway":
        await retry_dead_letter(request.app.state.sessionmaker, infra, _retries(request), item.consumer, item.event_id)
    else:
        await _call(request, settings, principal, item.service, "POST", f"{item.path}/retry")
    return Response(status_code=204)


@router.post("/{service}/{consumer}/{event_id}/discard", status_code=204, responses=UPSTREAM_FAILURES)
async def discard_parked_item(
    request: Request, settings: SettingsDep, principal: AuthorisedDep, item: ItemDep
) -> Response:
    """Drop the item for good (its consumer has already moved past it)."""
    if item.service == "gateway":
        await discard_dead_letter(request.app.state.sessionmaker, infra, item.consumer, item.event_id)
    else:
        await _call(request, settings, principal, item.service, "POST", f"{item.path}/discard")
    return Response(status_code=204)
