"""Shapes of `/orders`: money as decimal strings with an ISO 4217 currency."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

from crm_chassis.dates import Instant, OccurredAt

Money = Annotated[Decimal, Field(max_digits=16, decimal_places=2)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


@functools.lru_cache(maxsize=1024)
def _is_currency(code: str) -> bool:
    # pycountry's lookup costs more than the rest of an order's validation; a file names few codes
    return pycountry.currencies.get(alpha_3=code) is not None


def _currency(code: str) -> str:
    code = code.upper()
    if not _is_currency(code):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


Currency = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(_currency)]
# When it happened: bounded in crm_chassis.dates (1900-01-01 to now plus CRM_OCCURRENCE_SKEW_SECONDS).
PastTime = OccurredAt


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Ref | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    unit_price: Annotated[Money, Field(ge=0)] | None = None


class OrderLine(BaseModel):
    """A stored line item, as OrderItem wrote it: sku and unit_price are absent when not given."""

    model_config = ConfigDict(extra="forbid")

    sku: str | None = None
    name: str
    quantity: int
    unit_price: Decimal | None = None

    @model_serializer(mode="wrap")
    def _absent_not_null(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        # no return annotation: the documented schema stays the model's own
        return {k: v for k, v in handler(self).items() if v is not None}


class OrderCreate(BaseModel):
    """A purchase. Name the customer by `customer_id` or by the partner's `customer_external_ref`."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = None
    customer_external_ref: Ref | None = None
    external_ref: Ref | None = None
    source: Short = "api"
    occurred_at: PastTime
    amount: Annotated[
        Money,
        Field(ge=0, description="what was paid; 0 for a free item or a full discount (refunds are the only negatives)"),
    ]
    currency: Currency
    margin: Money | None = None
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    channel: Short | None = None
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    items: Annotated[list[OrderItem], Field(max_length=200)] = []
    campaign_id: uuid.UUID | None = Field(
        default=None, description="the campaign that brought the purchase (it must exist); else attributed by window"
    )

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


class BatchRefund(RefundCreate):
    """A refund inside `POST /orders/batch`: it names its purchase by id, or by the purchase's
    external_ref in `source`, as a partner knows it."""

    refund_of: uuid.UUID | None = Field(None, description="the purchase's id")
    refund_of_external_ref: Ref | None = Field(None, description="the purchase's external_ref in `source`")
    source: Short = "api"

    @model_validator(mode="after")
    def _one_link(self) -> BatchRefund:
        if (self.refund_of is None) == (self.refund_of_external_ref is None):
            raise ValueError("name the purchase by exactly one of refund_of or refund_of_external_ref")
        return self

    def refund(self) -> RefundCreate:
        return RefundCreate.model_validate(self.model_dump(include=set(RefundCreate.model_fields)))


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
    items: list[OrderLine]
    refund_of: uuid.UUID | None
    reason: str | None
    campaign_id: uuid.UUID | None = None
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
    occurred_after: Instant | None = None
    occurred_before: Instant | None = None
