"""What the service's background jobs (imports, exports, hand-overs, campaign starts) share in
their tables: queued and running count as unfinished, every state change is a heartbeat, and a
job no process has touched for a while was left by a process that died."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_customer.imports.schemas import JobStatus

UNFINISHED = (JobStatus.queued.value, JobStatus.running.value)


async def set_state(session: AsyncSession, model: type[Any], job_id: uuid.UUID, **values: Any) -> None:
    """Change a job's row; the change is its heartbeat."""
    await session.execute(update(model).where(model.id == job_id).values(heartbeat_at=utcnow(), **values))


async def fail_orphans(
    session: AsyncSession, model: type[Any], silent_since: datetime, alive: set[uuid.UUID], error_summary: str
) -> int:
    """Mark failed the unfinished jobs no process has touched since `silent_since` and that no live
    runner of this process holds; returns how many."""
    result = await session.execute(
        update(model)
        .where(model.status.in_(UNFINISHED), model.heartbeat_at < silent_since, model.id.not_in(alive))
        .values(status=JobStatus.failed.value, finished_at=utcnow(), error_summary=error_summary)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
