"""Shapes of `/orders`: money as decimal strings with an ISO 4217 currency."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

# Clocks differ a little between a partner's system and ours; an order from the future does not.
CLOCK_SKEW = timedelta(minutes=5)
Money = Annotated[Decimal, Field(max_digits=16, decimal_places=2)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


def _currency(code: str) -> str:
    code = code.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


def _not_future(value: datetime) -> datetime:
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError("must not be in the future")
    return value.astimezone(UTC)


Currency = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(_currency)]
PastTime = Annotated[AwareDatetime, AfterValidator(_not_future)]


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Ref | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    unit_price: Annotated[Money, Field(ge=0)] | None = None


class OrderCreate(BaseModel):
    """A purchase. Name the customer by `customer_id` or by the partner's `customer_external_ref`."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = None
    customer_external_ref: Ref | None = None
    external_ref: Ref | None = None
    source: Short = "api"
    occurred_at: PastTime
    amount: Annotated[Money, Field(gt=0)]
    currency: Currency
    margin: Money | None = None
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    channel: Short | None = None
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    items: Annotated[list[OrderItem], Field(max_length=200)] = []

    @model_validator(mode="after")
    def _rules(self) -> OrderCreate:
        if (self.customer_id is None) == (self.customer_external_ref is None):
            raise ValueError("name the customer by exactly one of customer_id or customer_external_ref")
        if self.margin is not None and self.margin > self.amount:
            raise ValueError("margin cannot exceed the amount")
        return self


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[Money, Field(gt=0, description="how much is refunded, a positive number")]
    occurred_at: PastTime
    external_ref: Ref | None = None
    quantity: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class OrderUpdate(BaseModel):
    """Corrections that do not change what was paid: amounts are changed by refunds."""

    model_config = ConfigDict(extra="forbid")

    margin: Money | None = None
    channel: Short | None = None
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    items: Annotated[list[OrderItem], Field(max_length=200)] | None = None


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    source: str
    external_ref: str | None
    occurred_at: datetime
    amount: Decimal
    currency: str
    margin: Decimal | None
    quantity: int
    channel: str | None
    location: str | None
    items: list[dict[str, Any]]
    refund_of: uuid.UUID | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class OrderKind(StrEnum):
    purchase = "purchase"
    refund = "refund"


class OrderFilters(BaseModel):
    customer_id: uuid.UUID | None = None
    source: Short | None = None
    external_ref: Ref | None = None
    kind: OrderKind | None = None
    occurred_after: AwareDatetime | None = None
    occurred_before: AwareDatetime | None = None
