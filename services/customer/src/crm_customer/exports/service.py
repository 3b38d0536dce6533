"""Starting an export and finding its job and file."""

from __future__ import annotations

import uuid
from pathlib import Path

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound
from crm_chassis.identity import Principal
from crm_customer.db import Session, Sessionmaker
from crm_customer.exports import repository as export_repo
from crm_customer.exports import runner
from crm_customer.exports.models import ExportJob
from crm_customer.exports.runner import ExportRun
from crm_customer.exports.schemas import ExportCreate
from crm_customer.imports.schemas import JobStatus


def file_path(data_dir: Path, job_id: uuid.UUID) -> Path:
    return data_dir / "exports" / f"{job_id}.csv"


async def start(
    sessionmaker: Sessionmaker,
    read_sessionmaker: Sessionmaker,
    *,
    data: ExportCreate,
    principal: Principal,
    data_dir: Path,
) -> tuple[ExportJob, ExportRun]:
    """The queued job, committed here so that the run (started before the response) finds it."""
    # The total from the start, so that a page can show "n of total" while the run writes.
    async with read_sessionmaker() as session:
        total = await runner.count(session, data.kind, data.filters, principal)
    now = utcnow()
    job = ExportJob(
        id=uuid.uuid4(),
        kind=data.kind.value,
        status=JobStatus.queued.value,
        filters=data.filters,
        done=0,
        total=total,
        created_by=principal.subject,
        created_at=now,
        heartbeat_at=now,
    )
    async with sessionmaker.begin() as session:
        session.add(job)
    path = file_path(data_dir, job.id)
    return job, ExportRun(job.id, data.kind, data.filters, path, principal, sessionmaker, read_sessionmaker)


async def get(session: Session, *, job_id: uuid.UUID, principal: Principal) -> ExportJob:
    """The caller's export (any export for an admin); someone else's is not found."""
    job = await export_repo.get(session, job_id)
    if job is None or not (principal.is_admin or job.created_by == principal.subject):
        raise NotFound(f"export {job_id} does not exist", code="export_not_found")
    return job


def downloadable(job: ExportJob, data_dir: Path) -> Path:
    if job.status != JobStatus.succeeded.value:
        raise Conflict(f"the export is {job.status}; download it once it has succeeded", code="export_not_ready")
    path = file_path(data_dir, job.id)
    if not path.exists():
        raise NotFound("the export's file is no longer kept; start the export again", code="export_file_gone")
    return path
