from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

MoneyStr = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str)]


class ScoreCard(BaseModel):
    """Every part carries `as_of` and an `explanation` of the inputs that produced it."""

    model_config = ConfigDict(extra="allow")

    customer_id: uuid.UUID
    as_of: datetime
    scored_at: datetime
    run_id: uuid.UUID | None
    rfm: dict[str, Any]
    clv: dict[str, Any] = Field(description="simple, discounted, probabilistic: decimal strings")
    p_alive: dict[str, Any]
    expected_purchases: dict[str, Any]
    abc_class: dict[str, Any]
    value_segment: dict[str, Any]
    churn_risk: dict[str, Any]
    lifecycle_suggestion: str | None
    care: dict[str, Any]
    satisfaction: dict[str, Any] = Field(description="NPS, CSAT, satisfaction index and complaints, as scored")
    loyalty_stage: dict[str, Any]
    relationship_level: dict[str, Any]


class ScoreSummary(BaseModel):
    customer_id: uuid.UUID
    owner_id: uuid.UUID | None
    display_name: str
    as_of: datetime
    rfm_code: str | None
    rfm_segment: str | None
    value_segment: str | None
    abc_class: str
    key_customer_kind: str | None
    churn_risk: float | None
    lifecycle_suggestion: str | None
    p_alive: float | None
    clv_probabilistic: MoneyStr | None
    care_status: str | None
    care_due_date: date | None
    last_contact_at: datetime | None
