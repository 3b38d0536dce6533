from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType
from crm_customer.db import Base
from crm_customer.job_models import JobColumns


class ExportJob(JobColumns, Base):
    """One CSV export: which records (the list endpoint's filters) and where the file stands."""

    __tablename__ = "export_job"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)  # known when the export has finished

    __table_args__ = (
        Index("ix_export_job_created_at_id", "created_at", "id"),
        Index("ix_export_job_status_heartbeat_at", "status", "heartbeat_at"),
    )
