"""Every query on import jobs and their row errors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_chassis.pagination import Page, paginate
from crm_customer import job_rows
from crm_customer.imports.models import ImportJob, ImportRowError
from crm_customer.imports.outcome import ChunkOutcome, RowError
from crm_customer.imports.schemas import JobStatus

JOB_ORDER = [(ImportJob.created_at, True), (ImportJob.id, True)]  # newest first
ERROR_ORDER = [(ImportRowError.row_number, False), (ImportRowError.seq, False)]
UNFINISHED = job_rows.UNFINISHED


async def get(session: AsyncSession, job_id: uuid.UUID) -> ImportJob | None:
    return await session.get(ImportJob, job_id, populate_existing=True)


async def list_page(session: AsyncSession, created_by: str | None, limit: int, cursor: str | None) -> Page[ImportJob]:
    stmt = select(ImportJob)
    if created_by is not None:
        stmt = stmt.where(ImportJob.created_by == created_by)
    return await paginate(session, stmt, JOB_ORDER, "-created_at", limit, cursor)


async def earlier_import_of(session: AsyncSession, created_by: str, kind: str, file_sha256: str) -> ImportJob | None:
    """The caller's latest import of the same file that wrote, or may still write, rows: not a dry
    run, and not an atomic import that failed (which wrote nothing)."""
    stmt = select(ImportJob).where(
        ImportJob.created_by == created_by,
        ImportJob.kind == kind,
        ImportJob.file_sha256 == file_sha256,
        ImportJob.dry_run.is_(False),
        ~(ImportJob.atomic.is_(True) & (ImportJob.status == JobStatus.failed.value)),
    )
    return (await session.scalars(stmt.order_by(ImportJob.created_at.desc()).limit(1))).first()


async def count_unfinished(session: AsyncSession, created_by: str) -> int:
    """How many of this caller's imports are queued or running."""
    stmt = select(func.count()).select_from(ImportJob)
    stmt = stmt.where(ImportJob.created_by == created_by, ImportJob.status.in_(UNFINISHED))
    return int(await session.scalar(stmt) or 0)


async def first_errors(session: AsyncSession, job_id: uuid.UUID, limit: int) -> list[ImportRowError]:
    stmt = select(ImportRowError).where(ImportRowError.job_id == job_id)
    stmt = stmt.order_by(ImportRowError.row_number, ImportRowError.seq).limit(limit)
    return list((await session.scalars(stmt)).all())


async def errors_page(session: AsyncSession, job_id: uuid.UUID, limit: int, cursor: str | None) -> Page[ImportRowError]:
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
    message = (
        "the service stopped while the import ran. Rows of chunks already committed stay "
        "written; send the file again: rows already imported are matched by their natural key"
    )
    return await job_rows.fail_orphans(session, ImportJob, silent_since, alive, message)
