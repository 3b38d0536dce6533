"""Every query on hand-over jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_customer import job_rows
from crm_customer.reassign.models import ReassignmentJob


async def add(session: AsyncSession, job: ReassignmentJob) -> ReassignmentJob:
    session.add(job)
    await session.flush()
    return job


async def get(session: AsyncSession, job_id: uuid.UUID) -> ReassignmentJob | None:
    return await session.get(ReassignmentJob, job_id, populate_existing=True)


async def set_state(session: AsyncSession, job_id: uuid.UUID, **values: Any) -> None:
    await job_rows.set_state(session, ReassignmentJob, job_id, **values)


async def fail_orphans(session: AsyncSession, silent_since: datetime, alive: set[uuid.UUID]) -> int:
    """Mark failed the unfinished hand-overs no process has touched since `silent_since`."""
    message = "the service stopped while the hand-over ran; start it again to move the rest"
    return await job_rows.fail_orphans(session, ReassignmentJob, silent_since, alive, message)
