from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm_chassis.dates import CalendarDate, Instant
from crm_customer.orders.schemas import PastTime


class Channel(StrEnum):
    visit = "visit"
    phone = "phone"
    email = "email"
    sms = "sms"
    im = "im"
    video = "video"
    event = "event"


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Outcome = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class InteractionFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_at: PastTime
    channel: Channel
    direction: Direction
    summary: Summary
    outcome: Outcome | None = None
    next_follow_up_date: CalendarDate | None = None
    owner_id: uuid.UUID | None = None  # the account manager who made the contact; defaults to the caller
    closes_follow_up: bool = Field(
        default=False, description="this contact is the follow-up: earlier open follow-ups of the customer are done"
    )


class InteractionCreate(InteractionFields):
    customer_id: uuid.UUID


class InteractionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_at: PastTime | None = None
    channel: Channel | None = None
    direction: Direction | None = None
    summary: Summary | None = None
    outcome: Outcome | None = None
    next_follow_up_date: CalendarDate | None = None


class InteractionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    occurred_at: datetime
    channel: Channel
    direction: Direction
    owner_id: uuid.UUID | None
    summary: str
    outcome: str | None
    next_follow_up_date: date | None
    follow_up_done_at: datetime | None = Field(description="when the follow-up was done (null: open or none)")
    follow_up_done_by: str | None = Field(description="who marked it done, or `interaction <id>` that closed it")
    closes_follow_up: bool
    created_at: datetime
    updated_at: datetime
    version: int


class InteractionFilters(BaseModel):
    customer_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    channel: Channel | None = None
    direction: Direction | None = None
    occurred_after: Instant | None = None
    occurred_before: Instant | None = None
    follow_up_before: CalendarDate | None = None
