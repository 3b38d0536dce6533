"""Why a customer left or is leaving (step 2 of churned-customer management): recorded by hand or
answered in an exit survey."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, PrimaryKeyConstraint, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime
from crm_scoring.db import Base


class ChurnReason(Base):
    __tablename__ = "churn_reason"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    code: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # manual | exit_survey
    note: Mapped[str | None] = mapped_column(Text)
    # the exit-survey response it came from (one reason per code and response)
    response_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_churn_reason_customer_id_recorded_at_id", "customer_id", "recorded_at", "id"),
        Index("ix_churn_reason_recorded_at", "recorded_at"),
        Index("uq_churn_reason_response_id_code", "response_id", "code", unique=True),
    )


class MergeMove(Base):
    """A record of this service's own (a churn reason, a retention action) that a merge gave to the
    survivor, so that undoing the merge gives back exactly those. Removed by the undo."""

    __tablename__ = "merge_move"

    duplicate_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    survivor_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(24))  # churn_reason | retention_action
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid)

    __table_args__ = (PrimaryKeyConstraint("duplicate_id", "survivor_id", "kind", "record_id"),)
