"""Retention actions: the countermeasure of a customer who turned at risk or lost, for their owner."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime
from crm_scoring.db import Base

OPEN = "open"
CLOSED = "closed"
# at most one open action per customer: the scoring writers insert with ON CONFLICT DO NOTHING on it
OPEN_ONLY = text("status = 'open'")


class RetentionAction(Base):
    """Opened by a scoring that finds the customer newly `at_risk` or `lost` in a segment whose
    countermeasure is `win_back` or `retain`; closed with an outcome by a person (or by a purchase)."""

    __tablename__ = "retention_action"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    countermeasure: Mapped[str] = mapped_column(String(16))
    suggestion: Mapped[str] = mapped_column(String(16))  # the lifecycle suggestion that opened it
    value_segment: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_date: Mapped[date] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index(
            "uq_retention_action_open_customer_id",
            "customer_id",
            unique=True,
            postgresql_where=OPEN_ONLY,
            sqlite_where=OPEN_ONLY,
        ),
        Index("ix_retention_action_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_retention_action_due_date_id", "due_date", "id"),
    )
