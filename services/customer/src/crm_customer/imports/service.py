"""Accepting an import: the upload is spooled to disk and checked whole before a job exists."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import UploadFile

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotAvailable, NotFound, TooManyRequests
from crm_chassis.identity import Principal
from crm_customer.config import Settings
from crm_customer.db import Session, Sessionmaker
from crm_customer.imports import repository as job_repo
from crm_customer.imports.context import ImportContext
from crm_customer.imports.csvfile import copy_upload, inspect
from crm_customer.imports.models import ImportJob
from crm_customer.imports.runner import KINDS, ImportRun
from crm_customer.imports.schemas import Delimiter, Encoding, ImportKind, JobStatus


async def start(
    sessionmaker: Sessionmaker,
    *,
    upload: UploadFile,
    kind: ImportKind,
    dry_run: bool,
    atomic: bool,
    encoding: Encoding,
    delimiter: Delimiter,
    principal: Principal,
    settings: Settings,
    force: bool = False,
) -> tuple[ImportJob, ImportRun]:
    """The queued job, committed, and the run that carries it out (the caller starts it).

    The job is committed here rather than by the request's session: the run starts before the
    response is sent and must find the job.
    """
    if kind not in KINDS:
        raise NotAvailable(f"imports of {kind.value} are not available yet; nothing was written")
    spec = KINDS[kind][0]
    async with sessionmaker() as session:
        running = await job_repo.count_unfinished(session, principal.subject)
    if running >= settings.max_concurrent_imports:
        raise TooManyRequests(
            f"{running} of your imports are still running (at most {settings.max_concurrent_imports}); "
            "wait for one to finish",
            code="too_many_imports",
            headers={"Retry-After": "10"},
        )
    job_id = uuid.uuid4()
    path = settings.data_dir / "imports" / f"{job_id}.csv"
    try:
        file_sha256 = await asyncio.to_thread(copy_upload, upload.file, path)
        layout = await asyncio.to_thread(inspect, path, spec, encoding, delimiter)
        if not dry_run and not force:
            async with sessionmaker() as session:
                earlier = await job_repo.earlier_import_of(session, principal.subject, kind.value, file_sha256)
            if earlier is not None:
                raise _already_imported(earlier)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    now = utcnow()
    job = ImportJob(
        id=job_id,
        kind=kind.value,
        status=JobStatus.queued.value,
        dry_run=dry_run,
        atomic=atomic,
        encoding=encoding.value,
        delimiter=layout.delimiter,
        natural_key=spec.natural_key,
        filename=(upload.filename or "")[:255] or None,
        ignored_columns=[c for c in layout.columns if c in spec.ignored],
        total=layout.total,
        done=0,
        created_count=0,
        updated_count=0,
        skipped_count=0,
        failed_count=0,
        error_count=0,
        created_by=principal.subject,
        created_at=now,
        heartbeat_at=now,
        file_sha256=file_sha256,
    )
    async with sessionmaker.begin() as session:
        session.add(job)
    context = ImportContext(principal=principal, phone_region=settings.default_phone_region)
    run = ImportRun(job_id, kind, path, layout, dry_run, atomic, context, sessionmaker)
    return job, run


def _already_imported(earlier: ImportJob) -> Conflict:
    when = earlier.created_at.isoformat(timespec="seconds")
    return Conflict(
        f"this file was imported before: import {earlier.id} ({earlier.status}, {when}). Its rows are in the"
        " archive already; sending it again would create the rows without external_ref, email or phone a"
        " second time. Send only the rows still missing, or add ?force=true to import the whole file again.",
        code="duplicate_import",
        earlier_import_id=str(earlier.id),
    )


async def get(session: Session, *, job_id: uuid.UUID, principal: Principal) -> ImportJob:
    """The caller's job (any job for an admin); someone else's is not found."""
    job = await job_repo.get(session, job_id)
    if job is None or not (principal.is_admin or job.created_by == principal.subject):
        raise NotFound(f"import {job_id} does not exist", code="import_not_found")
    return job
