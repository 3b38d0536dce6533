"""Bodies of the gateway's own endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from crm_gateway.models import Role
from crm_gateway.permissions import SCOPES

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


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str


class RefreshRequest(_Input):
    refresh_token: str = Field(min_length=1, max_length=200)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    role: Role


class UserDetail(UserRead):
    is_active: bool
    manager_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class UserCreate(_Input):
    # A shape check, not EmailStr: company accounts often live on internal domains (.local, .test)
    # that a deliverability-minded validator refuses.
    email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    password: str = Field(max_length=256)
    role: Role
    name: str = Field(min_length=1, max_length=200)
    manager_id: uuid.UUID | None = None


class UserUpdate(_Input):
    role: Role | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    is_active: bool | None = None
    manager_id: uuid.UUID | None = None


class UserPage(BaseModel):
    items: list[UserDetail]
    next_cursor: str | None


class ApiKeyCreate(_Input):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1)
    expires_at: AwareDatetime | None = None


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


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    principal_kind: str | None
    principal_id: str | None
    principal_name: str | None
    role: str | None
    method: str
    path: str
    status: int
    client_address: str | None
    request_id: str | None
    personal_data: bool


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_cursor: str | None
