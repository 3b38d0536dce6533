"""Every query on export jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.pagination import paginate
from crm_customer.exports.models import ExportJob
from crm_customer.imports.schemas import JobStatus

JOB_ORDER = [(ExportJob.created_at, True), (ExportJob.id, True)]
UNFINISHED = (JobStatus.queued.value, JobStatus.running.value)


async def get(session: AsyncSession, job_id: uuid.UUID) -> ExportJob | None:
    return await session.get(ExportJob, job_id, populate_existing=True)


async def list_page(
    session: AsyncSession, created_by: str | None, limit: int, cursor: str | None
) -> tuple[list[ExportJob], str | None]:
    stmt = select(ExportJob)
    if created_by is not None:
        stmt = stmt.where(ExportJob.created_by == created_by)
    return await paginate(session, stmt, JOB_ORDER, "-created_at", limit, cursor)


async def set_state(session: AsyncSession, job_id: uuid.UUID, **values: Any) -> None:
    await session.execute(update(ExportJob).where(ExportJob.id == job_id).values(heartbeat_at=utcnow(), **values))


async def fail_orphans(session: AsyncSession, silent_since: datetime, alive: set[uuid.UUID]) -> int:
    """Mark failed the unfinished exports no process has touched since `silent_since`."""
    result = await session.execute(
        update(ExportJob)
        .where(ExportJob.status.in_(UNFINISHED), ExportJob.heartbeat_at < silent_since, ExportJob.id.not_in(alive))
        .values(
            status=JobStatus.failed.value,
            finished_at=utcnow(),
            error_summary="the service stopped while the export ran; start it again",
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
