from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_chassis.dates import Instant

MAX_SPAN = timedelta(days=5 * 366)


class Period(BaseModel):
    """`from`/`to` of an analytics query: the last 180 days by default, at most five years."""

    from_: Instant | None = None
    to: Instant | None = None
    interval: Literal["week", "month"] = "month"

    @model_validator(mode="after")
    def _span(self) -> Period:
        self.to = (self.to or datetime.now(UTC)).astimezone(UTC)
        self.from_ = (self.from_ or self.to - timedelta(days=180)).astimezone(UTC)
        if self.from_ >= self.to:
            raise ValueError("from must be before to")
        if self.to - self.from_ > MAX_SPAN:
            raise ValueError("the period may span at most five years")
        return self

    @property
    def start(self) -> datetime:
        assert self.from_ is not None
        return self.from_

    @property
    def end(self) -> datetime:
        assert self.to is not None
        return self.to


# The shapes the analytics answer. The measures are computed as plain dicts (analytics/*.py); these
# models validate them on the way out, so the document and the answer cannot differ: a member the
# models do not know is an error, not silently dropped.


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Nps(Shape):
    score: float | None = Field(description="promoters (9–10) minus detractors (0–6), in percent of n")
    promoters: int
    passives: int
    detractors: int
    n: int


class Csat(Shape):
    score: float | None = Field(description="share of 4–5 ratings, in percent of n")
    satisfied: int
    n: int


class SatisfactionIndex(Shape):
    index: float | None = Field(description="mean perception / expectation; below 1 is dissatisfied")
    dissatisfied: int
    n: int


class Summary(Shape):
    responses: int
    nps: Nps
    csat: Csat
    satisfaction_index: SatisfactionIndex


class Bucket(Summary):
    start: datetime
    end: datetime


class ChannelRate(Shape):
    channel: str
    invited: int
    responded: int
    rate: float | None


class SatisfactionTrend(Shape):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    interval: Literal["week", "month"]
    survey_id: uuid.UUID | None
    kind: str | None
    overall: Summary
    buckets: list[Bucket]
    response_rate_by_channel: list[ChannelRate]


class LatestScores(Shape):
    nps: int | None
    csat: float | None
    satisfaction_index: float | None


class LatestResponse(Shape):
    response_id: uuid.UUID
    survey_id: uuid.UUID
    channel: str
    responded_at: datetime
    scores: LatestScores


class CustomerSatisfaction(Summary):
    customer_id: uuid.UUID
    response_rate_by_channel: list[ChannelRate]
    latest: LatestResponse | None


class Durations(Shape):
    median_minutes: float | None
    p90_minutes: float | None
    n: int


class BreachRate(Shape):
    first_response: float | None
    resolution: float | None
    overall: float | None


class Measures(Shape):
    opened: int
    resolved: int
    breach_rate: BreachRate
    time_to_first_response: Durations
    time_to_resolution: Durations


class GroupMeasures(Measures):
    key: str


class WindowMeasures(Measures):
    start: datetime
    end: datetime


class ComplaintReport(Shape):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    interval: Literal["week", "month"]
    as_of: datetime
    open_by_age_and_severity: dict[str, dict[str, int]] = Field(
        description="open complaints per severity, then per age band (under_1d, 1_to_3d, 3_to_7d, over_7d)"
    )
    overall: Measures
    by_category: list[GroupMeasures]
    by_channel: list[GroupMeasures]
    by_severity: list[GroupMeasures]
    over_time: list[WindowMeasures]


class QuestionResult(Shape):
    """One question's results; which members are present depends on its type."""

    key: str
    type: str
    text: str
    n: int = Field(description="how many answered this question")
    distribution: list[int] | None = Field(default=None, description="nps: counts of 0–10; rating: of 1–5")
    nps: Nps | None = None
    mean: float | None = None
    csat: Csat | None = None
    expectation_mean: float | None = None
    perception_mean: float | None = None
    satisfaction_index: SatisfactionIndex | None = None
    counts: dict[str, int] | None = Field(default=None, description="choice: answers per option")
    answers: int | None = Field(default=None, description="text: how many answered")
    latest: list[str] | None = Field(default=None, description="text: the latest five answers")


class ReportSurvey(Shape):
    id: uuid.UUID
    title: str
    kind: str
    version: int


class ReportBackground(Shape):
    purpose: str
    kind: str


class ReportPeriod(Shape):
    first: datetime | None
    last: datetime | None


class ReportMethod(Shape):
    sample_size: int
    responses: int
    response_rate: float | None
    channels: list[ChannelRate]
    period: ReportPeriod
    analysis: str


class ReportResults(Summary):
    questions: list[QuestionResult]


class WeakQuestion(Shape):
    key: str
    text: str
    score: float


class CategoryCount(Shape):
    category: str
    complaints: int


class ReportConclusions(Shape):
    weakest_questions: list[WeakQuestion]
    complaint_categories: list[CategoryCount]
    countermeasures: list[str]


class SurveyReport(Shape):
    """A survey's analysis report: background, method, results and conclusions."""

    survey: ReportSurvey
    language: str = Field(description="the language of the texts the report writes itself: en or zh-CN")
    background: ReportBackground
    method: ReportMethod
    results: ReportResults
    conclusions: ReportConclusions


class OwnerComplaints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: uuid.UUID
    resolved: int = Field(description="complaints of the owner's customers resolved in [from, to)")
    resolved_within_sla: int = Field(description="of them, resolved with no resolution breach")


class ComplaintsByOwner(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    items: list[OwnerComplaints]
