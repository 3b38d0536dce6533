"""Bodies of the composite reads.

The parts of the overview are the owning services' answers, passed through untouched: the gateway
relies on none of their members, so it does not redeclare them (nor may it import the services). Each
part is documented by the schema its service publishes for the route it is read from, which the
merged document carries; the gateway's own markers (`forbidden`, `unavailable`) are declared here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)


def _upstream(schema: str, description: str) -> WithJsonSchema:
    return WithJsonSchema({"allOf": [{"$ref": f"#/components/schemas/{schema}"}], "description": description})


# The route each part is read from, and the schema its service publishes for it.
CustomerBody = Annotated[dict[str, Any], _upstream("CustomerRead", "GET /customers/{customer_id}")]
ScoreCardBody = Annotated[dict[str, Any], _upstream("ScoreCard", "GET /customers/{customer_id}/scores")]
ComplaintBody = Annotated[dict[str, Any], _upstream("ComplaintRead", "an item of GET /complaints?open=true")]
SatisfactionBody = Annotated[
    dict[str, Any], _upstream("CustomerSatisfaction", "GET /analytics/satisfaction/customers/{customer_id}")
]


class Forbidden(BaseModel):
    """The caller may not read this part through its own route: it was not asked for."""

    model_config = ConfigDict(extra="forbid")

    forbidden: Literal[True] = True


class Unavailable(BaseModel):
    """The part's service is down, slow or failing (`status`: what it answered, when it answered)."""

    model_config = ConfigDict(extra="forbid")

    unavailable: Literal[True] = True
    status: int | None = Field(default=None, description="absent when the service did not answer or failed")

    @model_serializer(mode="wrap")
    def _absent_not_null(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        # no return annotation: the documented schema stays the model's own
        return {k: v for k, v in handler(self).items() if v is not None}


Marker = Forbidden | Unavailable


class Overview(BaseModel):
    customer_id: uuid.UUID
    profile: CustomerBody
    scores: ScoreCardBody | Marker | None = Field(description="the score card; null before the customer is scored")
    open_complaints: list[ComplaintBody] | Marker = Field(description="the open complaints, at most 50")
    satisfaction: SatisfactionBody | Marker | None = Field(description="the latest satisfaction measures; null if none")


class ManagerRetention(BaseModel):
    """The retention of a manager's book over the period (the scoring service's formula)."""

    model_config = ConfigDict(extra="forbid")

    start_count: int = Field(description="customers of the book active at the period's start")
    end_count: int = Field(description="active at its end")
    new_count: int = Field(description="active at the end, not at the start")
    lost_count: int = Field(description="active at the start, not at the end")
    retention_rate: float | None = Field(description="(end − new) / start; null when none was active at the start")
    churn_rate: float | None = Field(description="lost / start")


class CurrencyAmount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = Field(description="ISO 4217 code")
    amount: str = Field(description="decimal amount")


class ManagerPerformance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manager_id: uuid.UUID | None = Field(description="the account manager; null for callers who see no names")
    name: str | None = Field(description="their name; null for callers who see no names")
    label: str = Field(description="the name, or `manager N` for callers who see no names")
    book_size: int = Field(description="live customers they own, created before `to`")
    revenue: str = Field(
        description="decimal amount: their customers' purchases in [from, to), less refunds, summed as they are"
        " over currencies (one trading currency is assumed; `revenue_by_currency` splits it)"
    )
    revenue_by_currency: list[CurrencyAmount] = Field(description="the revenue per currency, by currency code")
    key_customers: int = Field(description="their customers with a care status (key customers)")
    care_on_track: int = Field(description="of them, on_track at their latest scoring")
    care_on_track_share: float | None = Field(description="care_on_track / key_customers; null when none")
    retention: ManagerRetention
    actions_opened: int = Field(description="retention actions opened in [from, to)")
    actions_closed: int = Field(description="retention actions closed in [from, to)")
    actions_won_back: int = Field(description="of them closed as won_back")
    win_back_rate: float | None = Field(description="actions_won_back / actions_closed; null when none was closed")
    complaints_resolved: int | None = Field(
        description="their customers' complaints resolved in [from, to); null when the feedback service failed"
    )
    complaints_resolved_within_sla: int | None = Field(description="of them, with no resolution breach")
    complaints_within_sla_share: float | None = Field(description="within SLA / resolved; null when none")


class ManagersPerformance(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    anonymous: bool = Field(description="true when names and ids of the managers are hidden from the caller")
    complaints_available: bool = Field(description="false when the feedback service failed: complaint figures null")
    items: list[ManagerPerformance] = Field(description="one per account manager, largest net revenue first")
