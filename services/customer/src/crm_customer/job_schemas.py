"""What background jobs say of themselves alike: the fields every job's read shape ends with (as
its table ends with `JobColumns`), and the frame of an import's or export's `*.finished` event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from crm_customer.job_models import JobColumns


class JobReadEnd(BaseModel):
    """Why the job failed, who started it, and when. Pydantic lists a base's fields before its
    subclass's, so a job's read shape declares its own fields in a base that follows this one
    (`class ExportJobRead(JobReadEnd, ExportJobFields)`) and the public shape keeps them first."""

    error_summary: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def values_of(job: JobColumns) -> dict[str, Any]:
        """These fields' values from the job's row."""
        return {
            "error_summary": job.error_summary,
            "created_by": job.created_by,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
        }


class FinishedJob(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def error_summary(self) -> str | None: ...
    @property
    def created_by(self) -> str: ...
    @property
    def finished_at(self) -> datetime | None: ...


def finished_event(job: FinishedJob, **details: Any) -> dict[str, Any]:
    """A `*.finished` event's data: the job, its outcome, and the kind's `details` in between."""
    return {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status,
        **details,
        "error_summary": job.error_summary,
        "created_by": job.created_by,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
