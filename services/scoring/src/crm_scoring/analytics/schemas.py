"""The shapes the analytics answer. The measures are computed as plain dicts (analytics/service.py);
these models validate them on the way out, so the document and the answer cannot differ: a member the
models do not know is an error, not silently dropped."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RetentionView(Shape):
    from_: datetime = Field(alias="from")
    to: datetime
    activity_window_days: int
    definition: str
    start_count: int = Field(description="customers active at the period's start")
    end_count: int = Field(description="customers active at its end")
    new_count: int = Field(description="active at the end, not at the start")
    lost_count: int = Field(description="active at the start, not at the end")
    retention_rate: float | None
    churn_rate: float | None


class ReasonCount(Shape):
    code: str
    count: int


class LostCustomer(Shape):
    customer_id: uuid.UUID
    display_name: str | None
    estimated_loss: str | None = Field(description="decimal amount; null when it cannot be estimated")
    loss_basis: str | None
    reasons: list[str]
    value_segment: str | None
    lifecycle_suggestion: str | None


class RecordedReasonCount(Shape):
    code: str
    count: int
    manual: int = Field(description="recorded by hand")
    exit_survey: int = Field(description="answered in an exit survey")


class WinBackRate(Shape):
    closed: int = Field(description="retention actions closed in the period")
    won_back: int = Field(description="of them closed as won_back")
    rate: float | None = Field(description="won_back / closed; null when none was closed")


class SegmentWinBack(WinBackRate):
    value_segment: str | None


class CountermeasureWinBack(WinBackRate):
    countermeasure: str


class WinBackView(Shape):
    by_value_segment: list[SegmentWinBack]
    by_countermeasure: list[CountermeasureWinBack]


class ChurnView(Shape):
    from_: datetime = Field(alias="from")
    to: datetime
    lost_count: int
    lost_scored: int
    reasons: list[ReasonCount]
    estimated_loss: str = Field(description="decimal amount, the sum over the lost customers")
    estimated_loss_basis: str
    loss_bases: dict[str, int] = Field(description="lost customers per basis of their estimated loss")
    items: list[LostCustomer]
    next_cursor: str | None
    currently_at_risk: int
    currently_lost: int
    recorded_reasons: list[RecordedReasonCount] = Field(
        description="churn reasons recorded in the period, by hand or in exit surveys, per reason code"
    )
    reason_sources: dict[str, int] = Field(description="the period's recorded reasons per source (manual, exit_survey)")
    win_back: WinBackView = Field(description="of the retention actions closed in the period")


class ValueSegment(Shape):
    segment: str
    customers: int
    clv_probabilistic: str = Field(description="decimal amount, the segment's total")
    average_churn_risk: float | None


class RfmSegment(Shape):
    segment: str
    customers: int


class SegmentsView(Shape):
    value_segments: list[ValueSegment]
    rfm_segments: list[RfmSegment]


class AbcClass(Shape):
    class_: str = Field(alias="class")
    customers: int
    value_share: float | None


class ParetoPoint(Shape):
    customer_share: float
    value_share: float


class AbcView(Shape):
    customers: int
    classes: list[AbcClass]
    points: list[ParetoPoint]


class BookRetention(Shape):
    start_count: int = Field(description="customers of the book active at the period's start")
    end_count: int = Field(description="active at its end")
    new_count: int = Field(description="active at the end, not at the start")
    lost_count: int = Field(description="active at the start, not at the end")
    retention_rate: float | None = Field(description="(end − new) / start; null when none was active at the start")
    churn_rate: float | None


class CurrencyAmount(Shape):
    currency: str = Field(description="ISO 4217 code")
    amount: str = Field(description="decimal amount")


class ManagerFigures(Shape):
    owner_id: uuid.UUID
    book_size: int = Field(description="live customers the manager owns, created before `to`")
    revenue: str = Field(
        description="decimal amount: purchases in [from, to), less their refunds, summed as they are over"
        " currencies (one trading currency is assumed; `revenue_by_currency` splits it)"
    )
    revenue_by_currency: list[CurrencyAmount] = Field(description="the revenue per currency, by currency code")
    key_customers: int = Field(description="customers with a care status (key customers) at their latest scoring")
    care_on_track: int = Field(description="of them, on_track")
    care_on_track_share: float | None = Field(description="care_on_track / key_customers; null when none")
    retention: BookRetention
    actions_opened: int = Field(description="retention actions opened in [from, to)")
    actions_closed: int = Field(description="retention actions closed in [from, to)")
    actions_won_back: int = Field(description="of them closed as won_back")
    win_back_rate: float | None = Field(description="actions_won_back / actions_closed; null when none was closed")


class ManagersView(Shape):
    from_: datetime = Field(alias="from")
    to: datetime
    activity_window_days: int
    items: list[ManagerFigures]
