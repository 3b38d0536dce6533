from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType
from crm_customer.db import Base
from crm_customer.job_models import JobColumns


class ReassignmentJob(JobColumns, Base):
    """One hand-over: whose customers (the filter narrows them) go to whom, why, and how far it got."""

    __tablename__ = "reassignment_job"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    from_owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    to_owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    reason: Mapped[str] = mapped_column(String(500))
    filter: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer, default=0)  # customers matching when the job started
    moved: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # changed owner meanwhile: left alone

    __table_args__ = (
        Index("ix_reassignment_job_created_at_id", "created_at", "id"),
        Index("ix_reassignment_job_status_heartbeat_at", "status", "heartbeat_at"),
    )
