from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from crm_chassis.dates import EARLIEST, LATEST, OccurredAt
from crm_chassis.pagination import total_field
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
    # strict: JSON `true` or `"12"` is not a number of points
    points: Annotated[int, Field(ge=-10_000_000, le=10_000_000, strict=True)]
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
    total: int | None = total_field()


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


class CareClass(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    unclassified = "unclassified"  # no ABC class from scoring yet


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
    granted_at: OccurredAt | None = Field(
        default=None,
        description="when it was granted, if it is recorded after the fact (not in the future); default now. "
        "A concession with a value is charged to the care budget of the month this falls in",
    )

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
    care_class: CareClass | None = Field(description="the care budget line charged; null: no value, nothing charged")
    care_period: str | None = Field(description="the month charged, YYYY-MM")
    overspend: Decimal | None = Field(description="the part of the value beyond what the budget had left")
    overspend_approved_by: str | None = Field(description="the admin who granted it over the budget")


# Membership tiers


class BenefitKind(StrEnum):
    material = "material"  # a gift, a discount, a service that costs money
    non_material = "non_material"  # recognition, priority, access


class Benefit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: BenefitKind


TierName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Threshold = Annotated[
    int, Field(ge=0, le=1_000_000_000, strict=True, description="points balance at which the tier is reached")
]
Benefits = Annotated[list[Benefit], Field(max_length=50)]


def _distinct_benefits(benefits: list[Benefit]) -> list[Benefit]:
    names = [b.name for b in benefits]
    if len(set(names)) != len(names):
        raise ValueError("benefit names must differ")
    return benefits


class TierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TierName
    threshold: Threshold
    benefits: Annotated[Benefits, AfterValidator(_distinct_benefits)] = Field(default_factory=list)


class TierUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TierName | None = None
    threshold: Threshold | None = None
    benefits: Annotated[Benefits, AfterValidator(_distinct_benefits)] | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> TierUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class TierRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    threshold: int
    benefits: list[Benefit]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    version: int


class TierSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    threshold: int
    benefits: list[Benefit]


class TierSource(StrEnum):
    points = "points"  # the highest tier whose threshold the balance reaches
    manual = "manual"  # set by hand


class ManualTierSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier_id: uuid.UUID
    reason: Reason | None = None


class CustomerTierRead(BaseModel):
    customer_id: uuid.UUID
    balance: int
    tier: TierSummary | None = Field(description="the tier the customer holds; null: no tier is reached")
    source: TierSource | None = Field(description="why: the points rule or a tier set by hand; null with no tier")
    points_tier: TierSummary | None = Field(description="the tier the points alone give")
    next_tier: TierSummary | None = Field(
        description="the tier above the one held (the lowest tier when none is held); null at the top"
    )
    points_to_next: int | None = Field(
        default=None,
        description="points the balance lacks to reach `next_tier`; null at the top and while a tier is set by hand "
        "(the points do not move it)",
    )
    set_by: str | None = Field(default=None, description="who set the tier by hand")
    set_at: datetime | None = None
    reason: str | None = None


# Care budgets


PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def _bounded_period(value: str) -> str:
    """The years every other date input takes (crm_chassis.dates): 1900 to 2199."""
    if not EARLIEST.year <= int(value[:4]) <= LATEST.year:
        raise ValueError(f"must be a month between {EARLIEST:%Y-%m} and {LATEST:%Y-%m}")
    return value


# A calendar month in a body, a query or a path: the pattern, then the years.
Period = Annotated[
    str,
    StringConstraints(pattern=PERIOD_PATTERN),
    AfterValidator(_bounded_period),
    Field(description="a calendar month, YYYY-MM (1900-01 to 2199-12)"),
]


class CareBudgetSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[Money, Field(ge=0)]
    currency: Currency


class CareBudgetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    care_class: CareClass
    period: str
    amount: Decimal
    currency: str
    set_by: str
    set_at: datetime
    version: int


class CareBudgetLine(BaseModel):
    care_class: CareClass
    currency: str | None = Field(description="the budget's currency, or of the unbudgeted spending shown")
    budgeted: bool = Field(description="false: no budget in this currency, spending is shown but not limited")
    budget: Decimal | None
    spent: Decimal
    remaining: Decimal | None = Field(description="budget minus spent, never below zero; null when unbudgeted")
    overspend: Decimal = Field(description="how far spending went over the budget (0 when within)")
    grants: int = Field(description="concessions with a value charged to the line")
    overspend_grants: int = Field(description="of those, granted over the budget by an admin")


class CareBudgetReport(BaseModel):
    period: str
    lines: list[CareBudgetLine]


class CareBudgetFilters(BaseModel):
    # Unknown parameters are refused by the chassis (crm_chassis.query), which also knows the page's
    # own (limit, cursor, include_total); `extra="forbid"` here refused those too.
    period: Period | None = None
    care_class: CareClass | None = None
