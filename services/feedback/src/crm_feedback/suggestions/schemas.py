from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from crm_chassis.dates import Instant

Topic = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class SuggestionStatus(StrEnum):
    new = "new"
    reviewed = "reviewed"
    adopted = "adopted"
    declined = "declined"


# new → reviewed → adopted | declined; a decision is final.
NEXT_STATUSES: dict[SuggestionStatus, frozenset[SuggestionStatus]] = {
    SuggestionStatus.new: frozenset({SuggestionStatus.reviewed}),
    SuggestionStatus.reviewed: frozenset({SuggestionStatus.adopted, SuggestionStatus.declined}),
    SuggestionStatus.adopted: frozenset(),
    SuggestionStatus.declined: frozenset(),
}


class SuggestionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = None
    topic: Topic
    text: Text


class SuggestionUpdate(BaseModel):
    """`status` moves along new → reviewed → adopted/declined; `reply` is the answer to the customer."""

    model_config = ConfigDict(extra="forbid")

    topic: Topic | None = None
    text: Text | None = None
    status: SuggestionStatus | None = None
    reply: Text | None = None


class SuggestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID | None
    topic: str
    text: str
    status: SuggestionStatus
    reply: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class SuggestionFilters(BaseModel):
    customer_id: uuid.UUID | None = None
    status: SuggestionStatus | None = None
    topic: Topic | None = None
    created_after: Instant | None = None
    created_before: Instant | None = None
