from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints


class ContactRole(StrEnum):
    decision_maker = "decision_maker"
    purchaser = "purchaser"
    user = "user"
    influencer = "influencer"
    senior_leader = "senior_leader"


def _unique(values: list[ContactRole]) -> list[ContactRole]:
    return list(dict.fromkeys(values))


Roles = Annotated[list[ContactRole], Field(min_length=1, max_length=5), AfterValidator(_unique)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]
Notes = Annotated[str, StringConstraints(max_length=5000)]


class ContactCreate(BaseModel):
    """A contact: an individual customer (`customer_id`), or a person known only by name."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = None
    name: Name | None = None
    roles: Roles
    title: Title | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    notes: Notes | None = None


class ContactUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    roles: Roles | None = None
    title: Title | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    notes: Notes | None = None


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    customer_id: uuid.UUID | None = Field(validation_alias="person_id")
    name: str
    roles: list[ContactRole]
    title: str | None
    email: str | None
    phone: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    version: int
