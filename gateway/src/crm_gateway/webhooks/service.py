"""Rules about subscriptions: safe targets, what an admin may change, replays, and fan-out of events."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from crm_chassis.consumer import Handler
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_chassis.events import Event
from crm_gateway.config import Settings
from crm_gateway.db import Session
from crm_gateway.webhooks import catalogue, signing, targets
from crm_gateway.webhooks import repository as webhook_repository
from crm_gateway.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from crm_gateway.webhooks.runtime import Clock, WebhookRuntime
from crm_gateway.webhooks.schemas import WebhookCreate

# The current secret and those of earlier rotations still overlapping: bounds the signature header.
MAX_SIGNING_SECRETS = 4


async def check_url(url: str, settings: Settings, runtime: WebhookRuntime) -> None:
    try:
        await targets.check(url, runtime.resolver, allow_private=settings.webhook_allow_private)
    except targets.UnsafeTarget as exc:
        raise Unprocessable.field("url", "unsafe_url", str(exc)) from exc


async def create(
    session: Session,
    body: WebhookCreate,
    *,
    created_by: uuid.UUID | None,
    settings: Settings,
    runtime: WebhookRuntime,
) -> tuple[WebhookSubscription, str]:
    """The new subscription and its signing secret (shown to the admin once)."""
    await check_url(body.url, settings, runtime)
    secret = signing.new_secret()
    subscription = await webhook_repository.add_subscription(
        session,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        secret=secret,
        created_by=created_by,
    )
    return subscription, secret


async def get(session: Session, subscription_id: uuid.UUID) -> WebhookSubscription:
    subscription = await webhook_repository.get_subscription(session, subscription_id)
    if subscription is None:
        raise NotFound(f"webhook {subscription_id} does not exist", code="webhook_not_found")
    return subscription


async def update(
    session: Session,
    subscription: WebhookSubscription,
    *,
    changes: dict[str, Any],
    settings: Settings,
    runtime: WebhookRuntime,
) -> WebhookSubscription:
    if "url" in changes:
        await check_url(changes["url"], settings, runtime)
    if "active" in changes and changes["active"] != subscription.active:
        if changes["active"]:
            # Back on: the failure count starts again, or one more failure would switch it off.
            subscription.disabled_reason, subscription.disabled_at = None, None
            subscription.consecutive_failures = 0
        else:
            subscription.disabled_reason, subscription.disabled_at = "admin", runtime.clock()
    for field, value in changes.items():
        setattr(subscription, field, value)
    subscription.version += 1
    await session.flush()
    return subscription


async def rotate_secret(
    session: Session, subscription: WebhookSubscription, *, overlap_seconds: int, runtime: WebhookRuntime
) -> str:
    """Give the subscription a new secret (returned, to show once); the old one keeps signing too
    for `overlap_seconds`, and 0 ends every old secret at once (the one to use after a leak).

    Each replaced secret keeps its own overlap, so rotating again before one ends breaks no
    receiver, whichever secret it holds; the number of secrets signing at once is capped.
    """
    now = runtime.clock()
    retired: list[dict[str, str]] = []
    if overlap_seconds > 0:
        retired = signing.overlapping(subscription.retired_secrets, now)
        if len(retired) + 2 > MAX_SIGNING_SECRETS:  # the new secret and the one it replaces
            raise Conflict(
                f"{len(retired)} earlier secrets are still in their overlap; wait for one to end, "
                "or rotate with overlap_seconds 0 to end them all now",
                code="too_many_webhook_secrets",
            )
        until = now + timedelta(seconds=overlap_seconds)
        retired.insert(0, {"secret": subscription.secret, "until": until.isoformat()})
    subscription.retired_secrets = retired or None
    subscription.retired_secrets_until = max((datetime.fromisoformat(e["until"]) for e in retired), default=None)
    subscription.secret = signing.new_secret()
    subscription.secret_rotated_at = now
    subscription.version += 1
    await session.flush()
    return subscription.secret


async def delete(session: Session, subscription: WebhookSubscription, *, runtime: WebhookRuntime) -> None:
    """Stop it for good; its deliveries stay readable in the database for the record."""
    subscription.deleted_at = runtime.clock()
    subscription.active = False
    subscription.version += 1


async def replay(
    session: Session,
    subscription: WebhookSubscription,
    delivery_id: uuid.UUID,
    *,
    settings: Settings,
    runtime: WebhookRuntime,
) -> WebhookDelivery:
    """Queue a delivery to be sent now, whatever became of it, with a fresh retry window."""
    delivery = await webhook_repository.get_delivery(session, subscription.id, delivery_id)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} does not exist", code="delivery_not_found")
    if not subscription.active:
        raise Conflict("the webhook is disabled; set active to true first", code="webhook_inactive")
    now = runtime.clock()
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = now
    delivery.retry_until = now + timedelta(seconds=settings.webhook_retry_window_seconds)
    delivery.attempt_count = 0  # the backoff starts again; every earlier attempt stays in the log
    delivery.delivered_at = None
    await session.flush()
    return delivery


def fan_out_handler(clock: Clock, retry_window_seconds: float) -> Handler:
    """The consumer handler: one delivery per active subscription that asked for this event type.

    Runs in the consumer's transaction with the cursor move, so each event is fanned out exactly
    once. A subscription gets only events that happened after it was made: a gateway catching up on
    a long backlog must not flood a new partner with history.
    """

    async def handle(session: Session, event: Event) -> None:
        wanted = [
            sub_id
            for sub_id, patterns, created_at in await webhook_repository.active_subscriptions(session)
            if catalogue.matches(patterns, event.type) and event.occurred_at >= created_at
        ]
        if not wanted:
            return
        now = clock()
        await webhook_repository.add_event(
            session,
            event_id=event.id,
            event_type=event.type,
            occurred_at=event.occurred_at,
            data=catalogue.public_data(event.type, event.data),
        )
        await webhook_repository.add_deliveries(
            session,
            wanted,
            event_id=event.id,
            event_type=event.type,
            now=now,
            retry_until=now + timedelta(seconds=retry_window_seconds),
        )

    return handle
