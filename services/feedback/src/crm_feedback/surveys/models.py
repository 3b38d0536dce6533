from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType, UTCDateTime, utcnow
from crm_feedback.db import Base


class Survey(Base):
    """A questionnaire; its questions live in numbered versions so old answers keep their meaning."""

    __tablename__ = "survey"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper


class SurveyVersion(Base):
    __tablename__ = "survey_version"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    survey_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("survey.id"))
    number: Mapped[int] = mapped_column(Integer)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("survey_id", "number"),)


class SurveyInvitation(Base):
    """An invitation to answer; online ones carry a one-use token, stored only as its SHA-256."""

    __tablename__ = "survey_invitation"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    survey_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("survey.id"))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the invitation follows the resolution of a complaint (CSAT after handling).
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_survey_invitation_survey_id_created_at_id", "survey_id", "created_at", "id"),)


class SurveyResponse(Base):
    __tablename__ = "survey_response"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    survey_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("survey.id"))
    survey_version: Mapped[int] = mapped_column(Integer)
    # Unique: a second answer to one invitation is refused even when two arrive at once.
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("survey_invitation.id"), unique=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # Mystery shopping: the store or agent inspected, {type, id?, name}, instead of a customer.
    subject: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    channel: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column(JsonType)
    nps_score: Mapped[int | None] = mapped_column(Integer)
    csat_score: Mapped[float | None] = mapped_column(Float)
    satisfaction_index: Mapped[float | None] = mapped_column(Float)
    responded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entered_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_survey_response_survey_id_responded_at_id", "survey_id", "responded_at", "id"),
        Index("ix_survey_response_responded_at", "responded_at"),
    )
