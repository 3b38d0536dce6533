"""Bodies of `/api/v1/api-keys`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_chassis.dates import Instant
from crm_chassis.pagination import total_field
from crm_gateway.auth.permissions import SCOPES

Scope = Literal[
    "customers:read",
    "customers:write",
    "customers:pii",
    "orders:write",
    "feedback:write",
    "surveys:respond",
    "scores:read",
    "analytics:read",
]
assert set(Scope.__args__) == set(SCOPES)  # type: ignore[attr-defined]  # one list, two spellings


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1)
    expires_at: Instant | None = None


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str | None = Field(
        description="the secret: shown only in this response, store it now; null in a replay of the "
        "create (`Idempotent-Replayed: true`), since the secret is never stored"
    )


class ApiKeyPage(BaseModel):
    items: list[ApiKeyRead]
    next_cursor: str | None
    total: int | None = total_field()
