"""Request and response shapes of `/complaints` (names as API.md fixes them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm_chassis.dates import OccurredAt
from crm_feedback.common.enums import Category, ComplaintChannel, Severity, UtcDateTime
from crm_feedback.complaints.workflow import Action, Status
from crm_feedback.surveys.schemas import InvitationRead

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class Attitude(StrEnum):
    satisfied = "satisfied"
    neutral = "neutral"
    dissatisfied = "dissatisfied"


class ComplaintFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ComplaintChannel | None = None
    category: Category | None = None
    severity: Severity | None = None
    description: Description | None = None
    assignee_id: uuid.UUID | None = None
    first_response_due_at: UtcDateTime | None = Field(
        default=None, description="set by hand instead of by the SLA policy"
    )
    resolution_due_at: UtcDateTime | None = None
    note: Note | None = Field(default=None, description="recorded in the history with the change")


class ComplaintCreate(ComplaintFields):
    customer_id: uuid.UUID
    channel: ComplaintChannel
    category: Category
    severity: Severity
    description: Description
    opened_at: OccurredAt | None = Field(default=None, description="when the customer complained; now")


class ComplaintUpdate(ComplaintFields):
    """Only the fields sent change; each change is recorded in the history."""


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    note: Note | None = None
    resolution: Description | None = Field(default=None, description="required by `resolve`")


class FollowUpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attitude: Attitude
    retained: bool
    note: Note | None = None


class FollowUp(BaseModel):
    """The follow-up recorded after resolution (complaints/service.py builds it); a member it does not
    declare is an error, not an undocumented field."""

    model_config = ConfigDict(extra="forbid")

    attitude: Attitude
    retained: bool
    note: str | None
    at: UtcDateTime
    by: str = Field(description="who recorded it")


class HistoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    changes: dict[str, Any] | None


class SlaWarning(BaseModel):
    code: str
    message: str
    calendar: str | None = None
    years: list[int] = []


class ComplaintRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    channel: ComplaintChannel
    category: Category
    severity: Severity
    description: str
    assignee_id: uuid.UUID | None
    status: Status
    allowed_actions: list[Action]
    escalated: bool
    escalation_level: int
    escalated_to: uuid.UUID | None
    opened_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_policy_id: uuid.UUID | None
    deadline_source: str
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    sla_warnings: list[SlaWarning] = Field(
        default_factory=list,
        description="what the deadlines could not take into account, e.g. `calendar_out_of_range`: the policy "
        "follows an official calendar that does not cover a year the deadline runs through",
    )
    sla_paused: bool
    first_response_breached: bool
    resolution_breached: bool
    resolution: str | None
    follow_up: FollowUp | None
    history: list[HistoryEntry]
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class TransitionResult(ComplaintRead):
    csat_invitation: InvitationRead | None = Field(
        default=None, description="the CSAT invitation sent on resolution; its token is shown only here"
    )


class ComplaintSort(StrEnum):
    opened_at = "opened_at"
    opened_at_desc = "-opened_at"


class ComplaintFilters(BaseModel):
    customer_id: uuid.UUID | None = None
    status: Status | None = None
    severity: Severity | None = None
    category: Category | None = None
    channel: ComplaintChannel | None = None
    assignee_id: uuid.UUID | None = None
    escalated: bool | None = None
    open: bool | None = Field(default=None, description="true: only open statuses; false: resolved/closed")
    opened_after: UtcDateTime | None = None
    opened_before: UtcDateTime | None = None
