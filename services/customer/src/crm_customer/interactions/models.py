from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime, utcnow
from crm_customer.db import Base


class Interaction(Base):
    """One contact with a customer (the contact log, 接触记录)."""

    __tablename__ = "interaction"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    summary: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(500))
    next_follow_up_date: Mapped[date | None] = mapped_column(Date, index=True)
    # a follow-up is done by hand (`POST .../follow-up/done`) or by a later contact that says so
    follow_up_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_done_by: Mapped[str | None] = mapped_column(String(200))
    closes_follow_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_interaction_customer_id_occurred_at", "customer_id", "occurred_at"),
        Index("ix_interaction_occurred_at_id", "occurred_at", "id"),
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper
