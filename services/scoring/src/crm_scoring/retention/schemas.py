"""Request and response shapes of `/retention/actions`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Outcome = Literal["won_back", "kept", "lost", "let_go"]
Status = Literal["open", "closed"]
ActingCountermeasure = Literal["win_back", "retain"]


class RetentionActionRead(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    owner_id: uuid.UUID | None = Field(description="the customer's account manager (now)")
    display_name: str | None = Field(description="the customer's name; null for analysts, who see no personal data")
    countermeasure: ActingCountermeasure = Field(description="from the value segment, as the settings map it")
    suggestion: Literal["at_risk", "lost"] = Field(description="the lifecycle suggestion that opened the action")
    value_segment: str | None = Field(description="the customer's value segment when the action was opened")
    status: Status
    outcome: Outcome | None
    note: str | None
    created_at: datetime
    due_date: date
    closed_at: datetime | None
    closed_by: str | None = Field(description="who set the outcome; `order:<id>` when a purchase won them back")
    version: int


class RetentionActionUpdate(BaseModel):
    """Setting `outcome` closes the action; a `note` alone keeps it open."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome | None = None
    note: Annotated[str, StringConstraints(max_length=4000)] | None = None

    @model_validator(mode="after")
    def _no_null_outcome(self) -> RetentionActionUpdate:
        if "outcome" in self.model_fields_set and self.outcome is None:
            raise ValueError("outcome cannot be cleared: an action once closed stays closed")
        return self


class RetentionActionFilters(BaseModel):
    owner_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    status: Status | None = None
    outcome: Outcome | None = None
    countermeasure: ActingCountermeasure | None = None
