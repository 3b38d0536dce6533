from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from crm_chassis.db import SessionDep
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer.deps import SettingsDep
from crm_customer.exports import repository as export_repo
from crm_customer.exports import service as export_service
from crm_customer.exports.schemas import ExportCreate, ExportJobRead
from crm_customer.imports.background import jobs_lifespan, spawn

router = APIRouter(prefix="/exports", tags=["exports"], lifespan=jobs_lifespan("exports", export_repo.fail_orphans))


@router.post("", status_code=202, response_model=ExportJobRead, summary="Export records to CSV (in the background)")
async def start_export(
    body: ExportCreate, request: Request, response: Response, settings: SettingsDep, principal: PrincipalDep
) -> ExportJobRead:
    state = request.app.state
    job, run = await export_service.start(
        state.sessionmaker, state.read_sessionmaker, data=body, principal=principal, data_dir=settings.data_dir
    )
    spawn(request.app, "exports", job.id, run.run())
    response.headers["Location"] = f"/exports/{job.id}"
    return ExportJobRead.of(job)


@router.get("", response_model=Page[ExportJobRead], summary="Exports, newest first")
async def list_exports(session: SessionDep, principal: PrincipalDep, page: PageDep) -> Page[ExportJobRead]:
    created_by = None if principal.is_admin else principal.subject
    found = await export_repo.list_page(session, created_by, page.limit, page.cursor)
    return found.map(ExportJobRead.of)


@router.get("/{job_id}", response_model=ExportJobRead, summary="An export: status and progress")
async def read_export(job_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ExportJobRead:
    return ExportJobRead.of(await export_service.get(session, job_id=job_id, principal=principal))


@router.get(
    "/{job_id}/download",
    response_class=FileResponse,
    summary="The exported CSV (UTF-8 with BOM; formula-like text cells start with ')",
    responses={200: {"content": {"text/csv": {}}}, 409: {"description": "not finished"}},
)
async def download_export(
    job_id: uuid.UUID, session: SessionDep, settings: SettingsDep, principal: PrincipalDep
) -> FileResponse:
    job = await export_service.get(session, job_id=job_id, principal=principal)
    path = export_service.downloadable(job, settings.data_dir)
    name = f"{job.kind}-{job.created_at:%Y%m%d-%H%M%S}.csv"
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=name)
