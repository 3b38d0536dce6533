"""Scoring settings: thresholds, windows, rates, cadence and warning points (validated as a whole)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_scoring.models.churn import DEFAULT_WEIGHTS
from crm_scoring.models.segments import SEGMENT_TABLE, default_countermeasures

Share = float
Countermeasure = Literal["win_back", "retain", "maintain", "let_go"]


class ScoringSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_unit: Literal["weeks", "days"] = "weeks"
    rfm_window_days: int = Field(default=365, ge=7, le=3650, description="RFM looks at purchases in this window")
    activity_window_days: int = Field(
        default=365, ge=7, le=3650, description="a customer at a date = a purchase in this window before it"
    )
    clv_horizon_months: int = Field(default=12, ge=1, le=120)
    discount_rate: float = Field(default=0.10, ge=0, le=1, description="annual cost of capital")
    default_margin: float = Field(default=0.30, ge=0, le=1, description="for orders without their own margin")
    cltv_years: int = Field(default=3, ge=1, le=30)
    relationship_days: int = Field(default=1095, ge=1, le=36500, description="T in Cv = S/t × T")
    abc_a_share: float = Field(default=0.80, gt=0, lt=1)
    abc_b_share: float = Field(default=0.95, gt=0, le=1)
    abc_value_basis: Literal["monetary", "clv_probabilistic"] = "monetary"
    influence_referrals: int = Field(default=3, ge=1, le=1000)
    influence_level_min: Literal["medium", "high"] = Field(
        default="high", description="a customer's influence_level from which they are a key customer by influence"
    )
    growth_top_share: float = Field(default=0.20, gt=0, lt=1)
    long_term_days: int = Field(default=365, ge=1, le=36500)
    high_margin: float = Field(default=0.30, ge=0, le=1)
    low_margin: float = Field(default=0.15, ge=0, le=1)
    cycle_multiple: float = Field(default=2.0, gt=0, le=100)
    p_alive_threshold: float = Field(default=0.30, ge=0, le=1)
    lost_after_days: int = Field(default=365, ge=1, le=36500)
    lost_p_alive: float = Field(default=0.05, ge=0, le=1)
    churn_warning_threshold: float = Field(default=0.50, gt=0, le=1)
    churn_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    care_cadence_days: int = Field(default=15, ge=1, le=3650)
    care_remind_days: int = Field(default=60, ge=1, le=3650)
    care_lapse_days: int = Field(default=120, ge=1, le=3650)
    care_too_frequent_contacts: int = Field(
        default=6, ge=1, le=1000, description="more contacts than this within care_too_frequent_days is too frequent"
    )
    care_too_frequent_days: int = Field(default=30, ge=1, le=365)
    campaign_response_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="an engaging campaign response (not a delivery or an unsubscribe) within this many days "
        "is the churn reason responded_to_campaign (weight 0 by default: informational)",
    )
    feedback_lookback_days: int = Field(default=365, ge=1, le=3650)
    cost_per_complaint: float = Field(
        default=0.0, ge=0, le=1_000_000, description="cost to serve of each complaint opened (with concessions' value)"
    )
    cost_per_service_record: float = Field(default=0.0, ge=0, le=1_000_000, description="of each service record")
    cost_per_contact: float = Field(default=0.0, ge=0, le=1_000_000, description="of each logged contact")
    countermeasures: dict[str, Countermeasure] = Field(
        default_factory=lambda: default_countermeasures(),  # type: ignore[arg-type,return-value]
        description="the churn countermeasure per value segment; win_back and retain open a retention action "
        "when a customer of the segment turns at_risk or lost (a segment left out keeps its default)",
    )
    retention_due_days: int = Field(default=14, ge=1, le=365, description="a retention action is due this many days on")

    @model_validator(mode="after")
    def _consistent(self) -> ScoringSettings:
        problems = []
        if self.abc_a_share >= self.abc_b_share:
            problems.append("abc_a_share must be below abc_b_share")
        if self.low_margin > self.high_margin:
            problems.append("low_margin must not exceed high_margin")
        if not self.care_cadence_days < self.care_remind_days < self.care_lapse_days:
            problems.append("care_cadence_days < care_remind_days < care_lapse_days is required")
        unknown = set(self.churn_weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            problems.append(f"unknown churn weights: {', '.join(sorted(unknown))}")
        if any(not 0 <= w < 1 for w in self.churn_weights.values()):
            problems.append("each churn weight must be in [0, 1)")
        unknown_segments = set(self.countermeasures) - set(SEGMENT_TABLE)
        if unknown_segments:
            problems.append(f"unknown value segments in countermeasures: {', '.join(sorted(unknown_segments))}")
        if problems:
            raise ValueError("; ".join(problems))
        self.countermeasures = {**default_countermeasures(), **self.countermeasures}  # type: ignore[dict-item]
        return self

    @property
    def days_per_unit(self) -> float:
        return 7.0 if self.time_unit == "weeks" else 1.0


class SettingsRead(ScoringSettings):
    model_config = ConfigDict(extra="forbid")

    version: int
    updated_at: datetime | None = None
    updated_by: str | None = None
