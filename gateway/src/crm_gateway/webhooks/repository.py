"""Every query on webhook subscriptions and deliveries."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import Page, paginate
from crm_gateway.webhooks import signing
from crm_gateway.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

_LIVE = WebhookSubscription.deleted_at.is_(None)


async def add_subscription(
    session: AsyncSession,
    *,
    url: str,
    event_types: list[str],
    description: str | None,
    secret: str,
    created_by: uuid.UUID | None,
) -> WebhookSubscription:
    subscription = WebhookSubscription(
        url=url, event_types=event_types, description=description, secret=secret, created_by=created_by
    )
    session.add(subscription)
    await session.flush()
    return subscription


async def get_subscription(session: AsyncSession, subscription_id: uuid.UUID) -> WebhookSubscription | None:
    found = await session.get(WebhookSubscription, subscription_id)
    return found if found is not None and found.deleted_at is None else None


async def list_subscriptions(
    session: AsyncSession, *, limit: int, cursor: str | None, active: bool | None
) -> Page[WebhookSubscription]:
    stmt = select(WebhookSubscription).where(_LIVE)
    if active is not None:
        stmt = stmt.where(WebhookSubscription.active.is_(active))
    order = [(WebhookSubscription.created_at, False), (WebhookSubscription.id, False)]
    return await paginate(session, stmt, order, "created", limit, cursor)


async def active_subscriptions(session: AsyncSession) -> list[tuple[uuid.UUID, list[str], datetime]]:
    """Id, event types and creation time of every subscription that receives events now."""
    rows = await session.execute(
        select(WebhookSubscription.id, WebhookSubscription.event_types, WebhookSubscription.created_at).where(
            _LIVE, WebhookSubscription.active.is_(True)
        )
    )
    return [(row.id, row.event_types, row.created_at) for row in rows]


async def add_event(
    session: AsyncSession, *, event_id: uuid.UUID, event_type: str, occurred_at: datetime, data: dict[str, Any]
) -> None:
    session.add(WebhookEvent(id=event_id, type=event_type, occurred_at=occurred_at, data=data))
    await session.flush()


async def add_deliveries(
    session: AsyncSession,
    subscription_ids: list[uuid.UUID],
    *,
    event_id: uuid.UUID,
    event_type: str,
    now: datetime,
    retry_until: datetime,
) -> None:
    """One pending delivery of the event to each subscription, due now, in one statement."""
    await session.execute(
        insert(WebhookDelivery),
        [
            {
                "id": uuid.uuid4(),
                "subscription_id": subscription_id,
                "event_id": event_id,
                "event_type": event_type,
                "status": DeliveryStatus.pending,
                "attempt_count": 0,
                "next_attempt_at": now,
                "retry_until": retry_until,
                "created_at": now,
            }
            for subscription_id in subscription_ids
        ],
    )


async def get_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    found = await session.get(WebhookDelivery, delivery_id)
    return found if found is not None and found.subscription_id == subscription_id else None


async def list_deliveries(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    status: DeliveryStatus | None,
) -> Page[WebhookDelivery]:
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    order = [(WebhookDelivery.created_at, True), (WebhookDelivery.id, True)]
    return await paginate(session, stmt, order, "newest", limit, cursor)


async def delivery_with_subscription(
    session: AsyncSession, delivery_id: uuid.UUID, subscription_id: uuid.UUID
) -> tuple[WebhookDelivery, WebhookSubscription] | None:
    """A delivery and its subscription, whatever state either is in (None if one is gone)."""
    delivery = await session.get(WebhookDelivery, delivery_id)
    subscription = await session.get(WebhookSubscription, subscription_id)
    return None if delivery is None or subscription is None else (delivery, subscription)


async def add_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    *,
    attempted_at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            attempted_at=attempted_at,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )


async def attempts_of(session: AsyncSession, delivery_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[WebhookAttempt]]:
    """The attempts of several deliveries in one query, oldest first."""
    found: dict[uuid.UUID, list[WebhookAttempt]] = defaultdict(list)
    if not delivery_ids:
        return found
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    )
    for attempt in rows:
        found[attempt.delivery_id].append(attempt)
    return found


@dataclass(frozen=True)
class Job:
    """What a dispatcher needs to send one delivery, read in one query."""

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]  # the current secret first, then those of a rotation still overlapping
    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    data: dict[str, Any]


async def claim_due(session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int) -> list[Job]:
    """Take up to `limit` due deliveries of active subscriptions, hiding them until `lease_until`.

    SKIP LOCKED lets several gateway replicas dispatch side by side on PostgreSQL (SQLite has one
    writer at a time anyway); the lease makes a delivery due again if its sender dies mid-send.
    """
    stmt = (
        select(
            WebhookDelivery.id.label("delivery_id"),
            WebhookDelivery.subscription_id,
            WebhookSubscription.url,
            WebhookSubscription.secret,
            WebhookSubscription.retired_secrets,
            WebhookEvent.id.label("event_id"),
            WebhookEvent.type.label("event_type"),
            WebhookEvent.occurred_at,
            WebhookEvent.data,
        )
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.pending,
            WebhookDelivery.next_attempt_at <= now,
            WebhookSubscription.active.is_(True),
            _LIVE,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    jobs = []
    for row in await session.execute(stmt):
        fields = row._asdict()
        overlapping = signing.overlapping(fields.pop("retired_secrets"), now)
        fields["secrets"] = (fields.pop("secret"), *(entry["secret"] for entry in overlapping))
        jobs.append(Job(**fields))
    if jobs:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([job.delivery_id for job in jobs]))
            .values(next_attempt_at=lease_until)
        )
    return jobs


async def forget_retired_secrets(session: AsyncSession, *, now: datetime) -> None:
    """Drop the old secrets of every subscription whose rotation overlap has ended."""
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.retired_secrets_until <= now)
        .values(retired_secrets=null(), retired_secrets_until=None)
    )
