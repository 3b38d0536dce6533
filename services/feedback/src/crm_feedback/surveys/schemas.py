"""Request and response shapes of `/surveys` (names as API.md fixes them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from crm_chassis.dates import OccurredAt
from crm_feedback.common.enums import SurveyChannel

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
# The churn reason codes the scoring service aggregates (its README lists the same codes).
ChurnReasonCode = Literal[
    "price",
    "product_quality",
    "service",
    "delivery",
    "competitor",
    "complaint_unresolved",
    "no_longer_needed",
    "relocated",
    "other",
]
CHURN_REASON_CODES: tuple[str, ...] = ChurnReasonCode.__args__  # type: ignore[attr-defined]


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
    type: QuestionType
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    required: bool = True
    options: Annotated[list[Option], Field(min_length=2, max_length=50)] | None = None
    churn_reason: bool = Field(
        default=False,
        description="the reason question of the survey: its chosen options are the customer's churn reasons",
    )
    reason_codes: dict[str, ChurnReasonCode] | None = Field(
        default=None,
        description="reason question: the churn reason code of each option (an option that is itself a code "
        "may be left out)",
    )

    @model_validator(mode="after")
    def _options(self) -> Question:
        if self.type in CHOICE_TYPES:
            if not self.options:
                raise ValueError(f"a {self.type} question needs options")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options must be distinct")
        elif self.options is not None:
            raise ValueError(f"a {self.type} question has no options")
        if self.churn_reason:
            self._check_reason_codes()
        elif self.reason_codes is not None:
            raise ValueError("reason_codes belong to a reason question (churn_reason: true)")
        return self

    def _check_reason_codes(self) -> None:
        if self.type not in CHOICE_TYPES:
            raise ValueError("a reason question (churn_reason) is a single_choice or multiple_choice question")
        codes = self.reason_codes or {}
        options = self.options or []
        strays = sorted(set(codes) - set(options))
        if strays:
            raise ValueError(f"reason_codes name options the question does not have: {', '.join(strays)}")
        unmapped = [o for o in options if o not in codes and o not in CHURN_REASON_CODES]
        if unmapped:
            raise ValueError(
                f"options without a churn reason code: {', '.join(unmapped)} "
                f"(map them in reason_codes to one of {', '.join(CHURN_REASON_CODES)})"
            )

    def reason_code(self, option: str) -> str:
        """The churn reason code of an option of a reason question."""
        return (self.reason_codes or {}).get(option, option)


Questions = Annotated[list[Question], Field(min_length=1, max_length=100)]
_KIND_NEEDS = {SurveyKind.nps: QuestionType.nps, SurveyKind.csat: QuestionType.rating}


def check_questions(kind: SurveyKind, questions: list[Question]) -> None:
    keys = [q.key for q in questions]
    if len(set(keys)) != len(keys):
        raise ValueError("question keys must be distinct")
    needed = _KIND_NEEDS.get(kind)
    if needed is not None and not any(q.type == needed for q in questions):
        raise ValueError(f"a {kind} survey needs a {needed} question")
    if sum(q.churn_reason for q in questions) > 1:
        raise ValueError("a survey has at most one reason question (churn_reason)")


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


class SurveyTemplate(BaseModel):
    """A built-in survey in one language, shaped like a `POST /surveys` body."""

    kind: SurveyKind
    language: str = Field(description="en or zh-CN, from Accept-Language (default CRM_DEFAULT_LANGUAGE)")
    title: str
    description: str
    questions: list[Question]


class PublicSurvey(BaseModel):
    """What a survey page shows before it is answered: nothing about the customer or the invitation."""

    title: str
    questions: list[Question]


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
    responded_at: OccurredAt | None = None


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
