"""Request and response shapes of `/surveys` (names as API.md fixes them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from crm_feedback.common.enums import SurveyChannel, UtcDateTime

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SurveyKind(StrEnum):
    satisfaction = "satisfaction"
    nps = "nps"
    csat = "csat"
    mystery_shopping = "mystery_shopping"
    exit = "exit"


class QuestionType(StrEnum):
    nps = "nps"
    rating = "rating"
    expectation_perception = "expectation_perception"
    single_choice = "single_choice"
    multiple_choice = "multiple_choice"
    text = "text"


CHOICE_TYPES = frozenset({QuestionType.single_choice, QuestionType.multiple_choice})


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
    type: QuestionType
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    required: bool = True
    options: Annotated[list[Option], Field(min_length=2, max_length=50)] | None = None

    @model_validator(mode="after")
    def _options(self) -> Question:
        if self.type in CHOICE_TYPES:
            if not self.options:
                raise ValueError(f"a {self.type} question needs options")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options must be distinct")
        elif self.options is not None:
            raise ValueError(f"a {self.type} question has no options")
        return self


Questions = Annotated[list[Question], Field(min_length=1, max_length=100)]
_KIND_NEEDS = {SurveyKind.nps: QuestionType.nps, SurveyKind.csat: QuestionType.rating}


def check_questions(kind: SurveyKind, questions: list[Question]) -> None:
    keys = [q.key for q in questions]
    if len(set(keys)) != len(keys):
        raise ValueError("question keys must be distinct")
    needed = _KIND_NEEDS.get(kind)
    if needed is not None and not any(q.type == needed for q in questions):
        raise ValueError(f"a {kind} survey needs a {needed} question")


class SurveyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    kind: SurveyKind
    description: Annotated[str, StringConstraints(max_length=4000)] | None = Field(
        default=None, description="background and purpose, shown in the report"
    )
    questions: Questions
    active: bool = True

    @model_validator(mode="after")
    def _questions(self) -> SurveyCreate:
        check_questions(self.kind, self.questions)
        return self


class SurveyUpdate(BaseModel):
    """Changing `questions` creates a new version; answers stay tied to the version they answered."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    questions: Questions | None = None
    active: bool | None = None


class SurveyRead(BaseModel):
    id: uuid.UUID
    title: str
    kind: SurveyKind
    description: str | None
    active: bool
    current_version: int
    questions: list[Question]
    created_at: datetime
    updated_at: datetime
    version: int


class SurveyVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    questions: list[Question]
    created_at: datetime


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=500)]
    channel: SurveyChannel
    expires_in_days: Annotated[int, Field(ge=1, le=365)] | None = Field(
        default=None, description="online tokens only; the service default otherwise"
    )


class InvitationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    survey_id: uuid.UUID
    customer_id: uuid.UUID | None
    channel: SurveyChannel
    token: str | None = Field(default=None, description="online only, shown once at creation")
    expires_at: datetime | None
    status: str
    complaint_id: uuid.UUID | None = None
    responded_at: datetime | None = None
    created_at: datetime


class InvitationBatch(BaseModel):
    items: list[InvitationRead]


class TokenResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    answers: dict[str, Any]


class SubjectKind(StrEnum):
    store = "store"
    agent = "agent"


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: SubjectKind
    id: Annotated[str, StringConstraints(max_length=100)] | None = None
    name: Title


class StaffResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invitation_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    subject: Subject | None = Field(default=None, description="mystery shopping: the store or agent")
    channel: SurveyChannel
    answers: dict[str, Any]
    responded_at: UtcDateTime | None = None


class Scores(BaseModel):
    nps: int | None
    csat: float | None
    satisfaction_index: float | None


class ResponseRead(BaseModel):
    id: uuid.UUID
    survey_id: uuid.UUID
    survey_version: int
    invitation_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    subject: Subject | None
    channel: SurveyChannel
    answers: dict[str, Any]
    scores: Scores
    responded_at: datetime
