"""Bodies of `/api/v1/webhooks` and its deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_chassis.pagination import total_field
from crm_gateway.webhooks import catalogue
from crm_gateway.webhooks.models import DeliveryStatus

_URL_HELP = "http(s) URL resolving to public addresses only"
MAX_OVERLAP_SECONDS = 30 * 24 * 3600
_TYPES_HELP = "event types from docs/events.md, or every type of an aggregate as `order.*`"


def _known_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = [t for t in value if not catalogue.is_valid_pattern(t)]
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)} (see docs/events.md)")
    return sorted(set(value))


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description=_URL_HELP)
    event_types: list[str] = Field(min_length=1, max_length=100, description=_TYPES_HELP)
    description: str | None = Field(default=None, max_length=500)

    _types = field_validator("event_types")(_known_types)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048, description=_URL_HELP)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=100, description=_TYPES_HELP)
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None

    _types = field_validator("event_types")(_known_types)


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    disabled_reason: str | None = Field(description="`gone` (410), `failing` or `admin`")
    disabled_at: datetime | None
    consecutive_failures: int
    secret_rotated_at: datetime | None
    retired_secrets_until: datetime | None = Field(
        description="until when deliveries are also signed with secrets replaced by a rotation; null when none are"
    )
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str | None = Field(
        description="the signing secret (`whsec_…`): shown only in this response, store it now; null in "
        "a replay of the request (`Idempotent-Replayed: true`), since answers are stored without it"
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="how long deliveries are signed with the old secret too (default "
        "CRM_GATEWAY_WEBHOOK_SECRET_OVERLAP_SECONDS, 24 h); 0 stops every old secret at once",
    )


class WebhookSecretRotated(WebhookRead):
    secret: str | None = Field(
        description="the new signing secret: shown only in this response, store it now; null in a replay "
        "of the request (`Idempotent-Replayed: true`), since answers are stored without it"
    )


class WebhookPage(BaseModel):
    items: list[WebhookRead]
    next_cursor: str | None
    total: int | None = total_field()


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    retry_until: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempts: list[AttemptRead] = Field(default_factory=list, description="every attempt, oldest first")


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None
    total: int | None = total_field()
