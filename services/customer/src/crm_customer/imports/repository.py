"""Every query on import jobs and their row errors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.pagination import paginate
from crm_customer.imports.models import ImportJob, ImportRowError
from crm_customer.imports.outcome import ChunkOutcome, RowError
from crm_customer.imports.schemas import JobStatus

JOB_ORDER = [(ImportJob.created_at, True), (ImportJob.id, True)]  # newest first
ERROR_ORDER = [(ImportRowError.row_number, False), (ImportRowError.seq, False)]
UNFINISHED = (JobStatus.queued.value, JobStatus.running.value)


async def get(session: AsyncSession, job_id: uuid.UUID) -> ImportJob | None:
    return await session.get(ImportJob, job_id, populate_existing=True)


async def list_page(
    session: AsyncSession, created_by: str | None, limit: int, cursor: str | None
) -> tuple[list[ImportJob], str | None]:
    stmt = select(ImportJob)
    if created_by is not None:
        stmt = stmt.where(ImportJob.created_by == created_by)
    return await paginate(session, stmt, JOB_ORDER, "-created_at", limit, cursor)


async def first_errors(session: AsyncSession, job_id: uuid.UUID, limit: int) -> list[ImportRowError]:
    stmt = select(ImportRowError).where(ImportRowError.job_id == job_id)
    stmt = stmt.order_by(ImportRowError.row_number, ImportRowError.seq).limit(limit)
    return list((await session.scalars(stmt)).all())


async def errors_page(
    session: AsyncSession, job_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[ImportRowError], str | None]:
    stmt = select(ImportRowError).where(ImportRowError.job_id == job_id)
    return await paginate(session, stmt, ERROR_ORDER, "row", limit, cursor)


async def mark_running(session: AsyncSession, job_id: uuid.UUID) -> bool:
    now = utcnow()
    result = await session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == JobStatus.queued.value)
        .values(status=JobStatus.running.value, started_at=now, heartbeat_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_chunk(
    session: AsyncSession, job_id: uuid.UUID, done: int, outcome: ChunkOutcome, errors: Sequence[RowError]
) -> None:
    """Add a chunk's rows and counts to the job; `errors` are the ones still to be stored."""
    await session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(
            done=ImportJob.done + done,
            created_count=ImportJob.created_count + outcome.created,
            updated_count=ImportJob.updated_count + outcome.updated,
            skipped_count=ImportJob.skipped_count + outcome.skipped,
            failed_count=ImportJob.failed_count + outcome.failed,
            error_count=ImportJob.error_count + len(errors),
            heartbeat_at=utcnow(),
        )
    )
    if errors:
        rows = [
            {"job_id": job_id, "row_number": e.row, "column_name": e.column, "code": e.code, "message": e.message}
            for e in errors
        ]
        await session.execute(insert(ImportRowError), rows)


async def finish(
    session: AsyncSession, job_id: uuid.UUID, status: JobStatus, summary: str | None, **counts: int
) -> None:
    now = utcnow()
    await session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(status=status.value, error_summary=summary, finished_at=now, heartbeat_at=now, **counts)
    )


async def fail_orphans(session: AsyncSession, silent_since: datetime, alive: set[uuid.UUID]) -> int:
    """Mark failed the unfinished jobs no process has touched since `silent_since` (their process died)."""
    result = await session.execute(
        update(ImportJob)
        .where(ImportJob.status.in_(UNFINISHED), ImportJob.heartbeat_at < silent_since, ImportJob.id.not_in(alive))
        .values(
            status=JobStatus.failed.value,
            finished_at=utcnow(),
            error_summary="the service stopped while the import ran. Rows of chunks already committed stay "
            "written; send the file again: rows already imported are matched by their natural key",
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
