from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType, UTCDateTime, utcnow
from crm_feedback.db import Base, SeqType


class Complaint(Base):
    """A customer's complaint and the state of its handling (DOMAIN.md §3)."""

    __tablename__ = "complaint"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    status: Mapped[str] = mapped_column(String(24), default="open")

    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_to: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Deadlines come from the matching SLA policy ("policy"), are set by hand ("manual") or absent.
    sla_policy_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    deadline_source: Mapped[str] = mapped_column(String(8), default="none")
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the deadlines could not take into account: [{code, message, ...}] (calendar_out_of_range).
    sla_warnings: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    # The SLA clock stops while the complaint waits on the customer or sits resolved; closed
    # pauses are kept as [start, end] ISO pairs so the deadlines can be recomputed at any time.
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pauses: Mapped[list[list[str]]] = mapped_column(JsonType, default=list)
    first_response_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    resolution: Mapped[str | None] = mapped_column(Text)
    follow_up: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_complaint_opened_at_id", "opened_at", "id"),
        Index("ix_complaint_status", "status"),
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper


class ComplaintHistory(Base):
    """One line of a complaint's history: a transition, an edit, a follow-up or an SLA event."""

    __tablename__ = "complaint_history"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("complaint.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
