from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from crm_customer.orders.schemas import Currency, Money


class PointsKind(StrEnum):
    earn = "earn"
    redeem = "redeem"
    expire = "expire"
    adjust = "adjust"


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PointsCreate(BaseModel):
    """`points` is a positive amount for earn, redeem and expire; `adjust` takes a signed one."""

    model_config = ConfigDict(extra="forbid")

    kind: PointsKind
    points: Annotated[int, Field(ge=-10_000_000, le=10_000_000)]
    reason: Reason | None = None

    @model_validator(mode="after")
    def _sign(self) -> PointsCreate:
        if self.points == 0:
            raise ValueError("points must not be zero")
        if self.kind != PointsKind.adjust and self.points < 0:
            raise ValueError(f"{self.kind} takes a positive number of points")
        if self.kind == PointsKind.adjust and self.reason is None:
            raise ValueError("an adjustment needs a reason")
        return self

    @property
    def delta(self) -> int:
        return self.points if self.kind in (PointsKind.earn, PointsKind.adjust) else -self.points


class PointsEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: PointsKind
    points: int
    balance_after: int
    reason: str | None
    created_by: str
    created_at: datetime


class PointsLedger(BaseModel):
    balance: int
    items: list[PointsEntryRead]
    next_cursor: str | None = None


class ConcessionKind(StrEnum):
    discount = "discount"
    gift = "gift"
    service = "service"
    extension = "extension"
    points = "points"
    other = "other"


class ConcessionReason(StrEnum):
    loyalty_reward = "loyalty_reward"
    service_recovery = "service_recovery"
    threatened_to_leave = "threatened_to_leave"
    goodwill = "goodwill"
    promotion = "promotion"
    other = "other"


class ConcessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ConcessionKind
    value: Annotated[Money, Field(ge=0)] | None = None
    currency: Currency | None = None
    reason: ConcessionReason
    reason_note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    reciprocal: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)] | None = Field(
        default=None, description="what the customer gives in return (a longer contract, a referral, ...)"
    )
    approver_id: uuid.UUID

    @model_validator(mode="after")
    def _money(self) -> ConcessionCreate:
        if (self.value is None) != (self.currency is None):
            raise ValueError("value and currency go together")
        return self


class ConcessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    kind: ConcessionKind
    value: Decimal | None
    currency: str | None
    reason: ConcessionReason
    reason_note: str | None
    reciprocal: str | None
    approver_id: uuid.UUID
    granted_by: str
    granted_at: datetime
