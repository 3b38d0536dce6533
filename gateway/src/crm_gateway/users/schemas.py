"""Bodies of `/api/v1/users` (and of `/api/v1/auth/me`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from crm_chassis.pagination import total_field
from crm_gateway.users.models import Role


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


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A shape check, not EmailStr: company accounts often live on internal domains (.local, .test)
    # that a deliverability-minded validator refuses.
    email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    password: str = Field(max_length=256)
    role: Role
    name: str = Field(min_length=1, max_length=200)
    manager_id: uuid.UUID | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    is_active: bool | None = None
    manager_id: uuid.UUID | None = None


class UserPage(BaseModel):
    items: list[UserDetail]
    next_cursor: str | None
    total: int | None = total_field()


class UserName(BaseModel):
    id: uuid.UUID
    name: str


class UserNamePage(BaseModel):
    """The accounts found among the ids asked for; ids of no account are left out."""

    items: list[UserName]
    next_cursor: str | None = Field(None, description="always null: one answer holds every id asked for")
