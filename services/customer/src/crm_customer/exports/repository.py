"""Every query on export jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.pagination import Page, paginate
from crm_customer import job_rows
from crm_customer.exports.models import ExportJob

JOB_ORDER = [(ExportJob.created_at, True), (ExportJob.id, True)]


async def get(session: AsyncSession, job_id: uuid.UUID) -> ExportJob | None:
    return await session.get(ExportJob, job_id, populate_existing=True)


async def list_page(session: AsyncSession, created_by: str | None, limit: int, cursor: str | None) -> Page[ExportJob]:
    stmt = select(ExportJob)
    if created_by is not None:
        stmt = stmt.where(ExportJob.created_by == created_by)
    return await paginate(session, stmt, JOB_ORDER, "-created_at", limit, cursor)


async def set_state(session: AsyncSession, job_id: uuid.UUID, **values: Any) -> None:
    await job_rows.set_state(session, ExportJob, job_id, **values)


async def fail_orphans(session: AsyncSession, silent_since: datetime, alive: set[uuid.UUID]) -> int:
    """Mark failed the unfinished exports no process has touched since `silent_since`."""
    message = "the service stopped while the export ran; start it again"
    return await job_rows.fail_orphans(session, ExportJob, silent_since, alive, message)
