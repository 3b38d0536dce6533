"""Subscriptions, the events they were sent, each delivery of an event, and every attempt at it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime, utcnow
from crm_gateway.db import Base

JsonValue = JSON().with_variant(JSONB(), "postgresql")


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscription"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JsonValue)
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    # Kept as issued: HMAC signing needs the secret itself, so a hash would not do. Encrypting it
    # with a key held by the same process would add little; see docs/security.md, "Webhooks".
    secret: Mapped[str] = mapped_column(String(100))
    # Secrets replaced by a rotation that still sign deliveries until their overlap ends, newest
    # first, as [{"secret": "whsec_…", "until": "<RFC 3339>"}]: receivers switch without a gap.
    retired_secrets: Mapped[list[dict[str, str]] | None] = mapped_column(JsonValue, default=None)
    # When the last of them stops signing: lets the dispatcher forget them without reading the JSON.
    retired_secrets_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why it stopped: `gone` (the receiver answered 410), `failing`, or `admin`.
    disabled_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Deleted subscriptions keep their delivery log.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class WebhookEvent(Base):
    """An event that matched at least one subscription, stored once however many it matched."""

    __tablename__ = "webhook_event"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the producer's event id
    type: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JsonValue)


class WebhookDelivery(Base):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # One delivery per event and subscription, whatever replays of the feed happen.
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_subscription_id_created_at", "subscription_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_event.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(
            DeliveryStatus,
            name="webhook_delivery_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda statuses: [s.value for s in statuses],
        )
    )
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    # While a dispatcher holds a delivery this is moved past its send, so no other replica takes it.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery_id_attempted_at", "delivery_id", "attempted_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    duration_ms: Mapped[int] = mapped_column(Integer)
