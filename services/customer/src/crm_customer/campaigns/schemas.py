"""Shapes of `/campaigns`: money as decimal strings in the campaign's currency, dates as plain dates."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crm_chassis.dates import CalendarDate, Instant, OccurredAt
from crm_customer.customers.schemas import CustomerFilters
from crm_customer.imports.schemas import JobStatus, Progress
from crm_customer.job_schemas import JobReadEnd
from crm_customer.orders.schemas import Currency, Money

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Goal = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
CENT = Decimal("0.01")


def _to_cents(value: Decimal) -> Decimal:
    """`30` as `30.00`: the form the database gives back, so that a write answers as a read does."""
    return value.quantize(CENT)


# Money a campaign spends or a response brings: not negative, at most 2 decimal places, kept as cents.
Cost = Annotated[Money, Field(ge=0), AfterValidator(_to_cents)]
Risk = Annotated[float, Field(ge=0, le=1)]


class CampaignChannel(StrEnum):
    sms = "sms"
    email = "email"
    phone = "phone"
    visit = "visit"
    event = "event"
    im = "im"
    mail = "mail"


class CampaignStatus(StrEnum):
    draft = "draft"
    running = "running"
    finished = "finished"
    cancelled = "cancelled"


class CampaignResponseType(StrEnum):
    delivered = "delivered"
    opened = "opened"
    clicked = "clicked"
    replied = "replied"
    visited = "visited"
    purchased = "purchased"
    unsubscribed = "unsubscribed"


# Scoring's value segments (DOMAIN.md §3), as `score.suggestions_changed` brings them.
ValueSegment = Literal[
    "strategic_customer",
    "loyal_long_term",
    "profitable_big",
    "growth_potential",
    "low_value",
    "loyal_at_risk",
    "big_at_risk",
]


class CampaignTarget(CustomerFilters):
    """Who the campaign is for: the list filters of `GET /customers`, and scoring's view of the
    customer as the archive last heard it (`suggested_*` on the customer record)."""

    model_config = ConfigDict(extra="forbid")

    value_segment: ValueSegment | None = None
    abc_class: Literal["A", "B", "C"] | None = None
    churn_risk_gte: Risk | None = None
    churn_risk_lte: Risk | None = None

    @model_validator(mode="after")
    def _risk_range(self) -> CampaignTarget:
        low, high = self.churn_risk_gte, self.churn_risk_lte
        if low is not None and high is not None and low > high:
            raise ValueError("churn_risk_gte cannot exceed churn_risk_lte")
        return self

    def customer_filters(self) -> CustomerFilters:
        return CustomerFilters.model_validate(self.model_dump(include=set(CustomerFilters.model_fields)))


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    goal: Goal | None = None
    channel: CampaignChannel
    starts_on: CalendarDate
    ends_on: CalendarDate
    currency: Currency = "CNY"
    budget: Cost | None = None
    actual_cost: Cost | None = None
    owner_id: uuid.UUID | None = Field(
        default=None, description="an active agent or manager; an account manager's campaign is their own"
    )
    target: CampaignTarget = Field(default_factory=CampaignTarget)

    @field_validator("ends_on")
    @classmethod
    def _period(cls, ends_on: date, info: ValidationInfo) -> date:
        starts_on = info.data.get("starts_on")
        if starts_on is not None and ends_on < starts_on:
            raise ValueError("ends_on cannot precede starts_on")
        return ends_on


class CampaignUpdate(BaseModel):
    """Changes to a campaign; the target is fixed once it started, the status moves only forward."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    goal: Goal | None = None
    channel: CampaignChannel | None = None
    starts_on: CalendarDate | None = None
    ends_on: CalendarDate | None = None
    budget: Cost | None = None
    actual_cost: Cost | None = None
    owner_id: uuid.UUID | None = None
    target: CampaignTarget | None = None
    status: CampaignStatus | None = Field(
        default=None, description="draft → cancelled; running → finished or cancelled (running only by /start)"
    )


class CampaignRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    goal: str | None
    channel: CampaignChannel
    starts_on: date
    ends_on: date
    currency: str
    budget: Decimal | None
    actual_cost: Decimal | None
    owner_id: uuid.UUID | None
    status: CampaignStatus
    target: CampaignTarget
    member_count: int = Field(description="members the start took in (with marketing consent)")
    excluded_without_consent: int = Field(description="customers of the target left out: no marketing consent")
    created_by: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    version: int


class CampaignFilters(BaseModel):
    status: CampaignStatus | None = None
    channel: CampaignChannel | None = None
    owner_id: uuid.UUID | None = None
    starts_after: CalendarDate | None = Field(default=None, description="starting on or after this day")
    starts_before: CalendarDate | None = Field(default=None, description="starting before this day")
    created_after: Instant | None = None


class CampaignStartProgress(Progress):
    added: int = Field(description="customers taken in as members so far")
    excluded: int = Field(description="customers of the target left out so far: no marketing consent")


class CampaignStartFields(BaseModel):
    """`CampaignStartRead`'s own fields, which the public shape lists before `JobReadEnd`'s."""

    id: uuid.UUID
    campaign_id: uuid.UUID
    status: JobStatus
    progress: CampaignStartProgress


class CampaignStartRead(JobReadEnd, CampaignStartFields):
    """The job of a start: fixes the campaign's members."""


class CampaignMemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: uuid.UUID
    name: str
    added_at: datetime
    last_response_at: datetime | None


class CampaignResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    type: CampaignResponseType
    occurred_at: OccurredAt
    channel: CampaignChannel | None = Field(
        default=None, description="how the customer answered; the campaign's by default"
    )
    value: Cost | None = Field(
        default=None, description="what the response was worth, in the campaign's currency; not negative"
    )


class CampaignResponseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    campaign_id: uuid.UUID
    customer_id: uuid.UUID
    type: CampaignResponseType
    occurred_at: datetime
    channel: CampaignChannel | None
    value: Decimal | None
    recorded_by: str
    created_at: datetime


class CampaignResponseRate(BaseModel):
    type: CampaignResponseType
    members: int = Field(description="members with at least one response of this type")
    rate: float = Field(description="members / all members (0 when there are none)")


class CampaignOutcome(BaseModel):
    """What the campaign brought, for all members or the members of one value segment."""

    members: int
    responded: int = Field(description="members with any response but `unsubscribed`")
    response_rate: float
    converted: int = Field(description="members with at least one attributed purchase")
    conversion_rate: float
    revenue: Decimal = Field(description="attributed purchases net of their refunds, in the campaign's currency")
    margin: Decimal = Field(description="the known margins of the attributed purchases")
    orders: int = Field(description="attributed purchases")


class CampaignSegmentOutcome(CampaignOutcome):
    value_segment: str | None = Field(description="scoring's value segment now; null: not scored")


class CampaignReport(BaseModel):
    campaign_id: uuid.UUID
    name: str
    status: CampaignStatus
    currency: str
    attribution_window_days: int
    excluded_without_consent: int
    total: CampaignOutcome
    responses: list[CampaignResponseRate]
    cost: Decimal = Field(description="actual cost, else 0")
    roi: float | None = Field(description="(revenue − cost) / cost; null when the cost is 0")
    margin_roi: float | None = Field(description="(margin − cost) / cost; null when the cost is 0")
    segments: list[CampaignSegmentOutcome]
