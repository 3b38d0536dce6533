"""The columns every background job's table (imports, exports, hand-overs, campaign starts) ends
with: why it failed, who started it, when, and its heartbeat, which `job_rows` writes and reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime


class JobColumns:
    """Mixed into a job's model; the table lists them after the model's own columns."""

    error_summary: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written with every state change; a queued or running job whose heartbeat stops was orphaned by a crash.
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
