"""`/api/v1/webhooks`: admins subscribe partner URLs to events and inspect and replay deliveries."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from crm_chassis.errors import Unprocessable
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.pagination import PageDep
from crm_gateway.auth.principals import AuthorisedDep, actor_id
from crm_gateway.config import PUBLIC_PREFIX, SettingsDep
from crm_gateway.db import SessionDep
from crm_gateway.webhooks import repository as webhook_repository
from crm_gateway.webhooks import service as webhook_service
from crm_gateway.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookSubscription
from crm_gateway.webhooks.runtime import WebhookRuntime
from crm_gateway.webhooks.schemas import (
    AttemptRead,
    DeliveryPage,
    DeliveryRead,
    SecretRotation,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookRead,
    WebhookSecretRotated,
    WebhookUpdate,
)

router = APIRouter(prefix=PUBLIC_PREFIX + "/webhooks", tags=["webhooks"])


async def get_runtime(request: Request) -> WebhookRuntime:
    runtime: WebhookRuntime = request.app.state.webhook_runtime
    return runtime


RuntimeDep = Annotated[WebhookRuntime, Depends(get_runtime)]


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    body: WebhookCreate,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    principal: AuthorisedDep,
    response: Response,
) -> WebhookCreated:
    """Subscribe a URL to event types. The signing secret is in `secret` in this response only."""
    subscription, secret = await webhook_service.create(
        session, body, created_by=actor_id(principal), settings=settings, runtime=runtime
    )
    response.headers["Location"] = f"{router.prefix}/{subscription.id}"
    response.headers["ETag"] = etag_for(subscription.version)
    return WebhookCreated(**WebhookRead.model_validate(subscription).model_dump(), secret=secret)


@router.get("", response_model=WebhookPage)
async def list_webhooks(
    session: SessionDep, principal: AuthorisedDep, page: PageDep, active: bool | None = None
) -> WebhookPage:
    found = await webhook_repository.list_subscriptions(session, limit=page.limit, cursor=page.cursor, active=active)
    return WebhookPage(
        items=[WebhookRead.model_validate(s) for s in found.items], next_cursor=found.next_cursor, total=found.total
    )


@router.get("/{webhook_id}", response_model=WebhookRead, responses={304: {"description": "Not modified"}})
async def read_webhook(
    webhook_id: uuid.UUID, request: Request, response: Response, session: SessionDep, principal: AuthorisedDep
) -> WebhookSubscription | Response:
    subscription = await webhook_service.get(session, webhook_id)
    etag = etag_for(subscription.version)
    if (unchanged := not_modified(request, etag)) is not None:
        return unchanged
    response.headers["ETag"] = etag
    return subscription


@router.patch("/{webhook_id}", response_model=WebhookRead)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    principal: AuthorisedDep,
) -> WebhookSubscription:
    """Change the URL, event types, description or `active` (If-Match required)."""
    changes = body.model_dump(exclude_unset=True)
    for field in ("url", "event_types", "active"):
        if field in changes and changes[field] is None:
            raise Unprocessable.field(field, "null_not_allowed", "may not be null")
    subscription = await webhook_service.get(session, webhook_id)
    require_if_match(request, etag_for(subscription.version))
    subscription = await webhook_service.update(
        session, subscription, changes=changes, settings=settings, runtime=runtime
    )
    response.headers["ETag"] = etag_for(subscription.version)
    return subscription


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookSecretRotated)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    principal: AuthorisedDep,
    body: SecretRotation | None = None,
) -> WebhookSecretRotated:
    """Replace the signing secret; the new one is in `secret` in this response only.

    Deliveries are signed with the old secret as well (a second signature in `webhook-signature`)
    for `overlap_seconds`, so the receiver can switch at leisure; then the old one stops.
    """
    overlap = body.overlap_seconds if body is not None else None
    subscription = await webhook_service.get(session, webhook_id)
    secret = await webhook_service.rotate_secret(
        session,
        subscription,
        overlap_seconds=settings.webhook_secret_overlap_seconds if overlap is None else overlap,
        runtime=runtime,
    )
    response.headers["ETag"] = etag_for(subscription.version)
    return WebhookSecretRotated(**WebhookRead.model_validate(subscription).model_dump(), secret=secret)


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(
    webhook_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, principal: AuthorisedDep
) -> Response:
    """Unsubscribe: nothing more is sent, including deliveries still waiting."""
    subscription = await webhook_service.get(session, webhook_id)
    await webhook_service.delete(session, subscription, runtime=runtime)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    principal: AuthorisedDep,
    page: PageDep,
    status: DeliveryStatus | None = None,
) -> DeliveryPage:
    """Deliveries newest first, each with every attempt (status code or error, duration)."""
    await webhook_service.get(session, webhook_id)
    found = await webhook_repository.list_deliveries(
        session, webhook_id, limit=page.limit, cursor=page.cursor, status=status
    )
    attempts = await webhook_repository.attempts_of(session, [d.id for d in found.items])
    return DeliveryPage(
        items=[_delivery_read(d, attempts.get(d.id, [])) for d in found.items],
        next_cursor=found.next_cursor,
        total=found.total,
    )


@router.post("/{webhook_id}/deliveries/{delivery_id}/replay", status_code=202, response_model=DeliveryRead)
async def replay_webhook_delivery(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    principal: AuthorisedDep,
) -> DeliveryRead:
    """Send a delivery again now, even one delivered or given up on (same `webhook-id`)."""
    subscription = await webhook_service.get(session, webhook_id)
    delivery = await webhook_service.replay(session, subscription, delivery_id, settings=settings, runtime=runtime)
    attempts = await webhook_repository.attempts_of(session, [delivery.id])
    return _delivery_read(delivery, attempts.get(delivery.id, []))


def _delivery_read(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryRead:
    read = DeliveryRead.model_validate(delivery)
    read.attempts = [AttemptRead.model_validate(a) for a in attempts]
    return read
