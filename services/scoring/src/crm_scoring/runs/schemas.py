from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from crm_scoring.runs.models import ScoringRun


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: AwareDatetime | None = None


class Progress(BaseModel):
    done: int
    total: int


class RunRead(BaseModel):
    id: uuid.UUID
    status: Literal["queued", "running", "succeeded", "failed"]
    as_of: datetime
    progress: Progress
    counts: dict[str, Any]
    timings: dict[str, float]
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, run: ScoringRun) -> RunRead:
        return cls(
            id=run.id,
            status=run.status,  # type: ignore[arg-type]
            as_of=run.as_of,
            progress=Progress(done=run.progress_done, total=run.progress_total),
            counts=run.counts or {},
            timings=run.timings or {},
            requested_by=run.requested_by,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
        )
