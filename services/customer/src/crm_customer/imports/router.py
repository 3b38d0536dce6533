from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from crm_chassis.db import SessionDep
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_customer.db import Sessionmaker
from crm_customer.deps import SettingsDep
from crm_customer.exports import cells
from crm_customer.imports import repository as job_repo
from crm_customer.imports import service as import_service
from crm_customer.imports.background import jobs_lifespan, spawn
from crm_customer.imports.schemas import Delimiter, Encoding, ImportJobRead, ImportKind, RowErrorRead

FIRST_ERRORS = 20
IMPORT_RULES = """
The file: a header row naming the columns (the fields of the kind's create request; an export's
read-only columns such as `id` are accepted and ignored), then one record per row. UTF-8 with or
without BOM, or `encoding=gb18030`; comma or semicolon. Lists of words (`tags`, `hobbies`...) are
separated by `|` or `;` inside a cell; objects (`address`, `custom_fields`, `items`...) are JSON.
An empty cell is a field not given: an update leaves it as it is. A cell an export guarded with a
leading `'` (`'=...`, `'+86...`) is read without it.

Checked whole before the job exists: an empty, binary, undecodable or malformed file, or unknown,
duplicate or missing columns, is refused with 422. Rows are then validated exactly as the API
validates a single create. Customers are upserted by external_ref, else email, else phone (E.164,
so `138 0013 8000` matches `+8613800138000`); orders, contact-log entries and campaign responses
already recorded are skipped. A campaign response row names its `campaign_id`; its customer must be a member.
An order row that names a purchase in `refund_of` (its id) or `refund_of_external_ref` (its
external_ref in the row's source), with a negative amount, is a refund of it under the rules of
`POST /orders/{id}/refunds`; rows are applied top to bottom, so a purchase goes above its refunds.

Default mode writes the valid rows and reports the others, each error with its row (the header is
row 1), column, code and message. Progress is committed per chunk of 1,000 rows together with the
rows themselves; a job cut short by a crash is marked failed (after two minutes without progress)
and the file can be sent again. `atomic=true`: all rows or none. `dry_run=true`: nothing is
written, the counts and errors say what would be. Both run the file in one transaction, so every
row sees the rows above it as in a default run; their progress and counts show when they finish.

The same file (same bytes, same kind) sent again by the same caller after an import that wrote
rows is refused with 409 `duplicate_import` naming the earlier import, since rows without
external_ref, email or phone would be created twice; `force=true` imports it anyway.
"""
router = APIRouter(prefix="/imports", tags=["imports"], lifespan=jobs_lifespan("imports", job_repo.fail_orphans))


class ErrorFormat(StrEnum):
    json = "json"
    csv = "csv"


@router.post(
    "",
    status_code=202,
    response_model=ImportJobRead,
    summary="Import a CSV file (runs in the background)",
    description=IMPORT_RULES,
)
async def start_import(
    request: Request,
    response: Response,
    settings: SettingsDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="the CSV file; header row first")],
    kind: Annotated[ImportKind, Query(description="what the rows are")],
    dry_run: Annotated[bool, Query(description="validate every row and write nothing")] = False,
    atomic: Annotated[bool, Query(description="write every row or, if any row fails, none")] = False,
    encoding: Annotated[Encoding, Query(description="utf-8 (with or without BOM) or gb18030")] = Encoding.utf_8,
    delimiter: Annotated[Delimiter, Query(description="auto: comma or semicolon, from the header")] = Delimiter.auto,
    force: Annotated[
        bool, Query(description="import a file this caller imported before (otherwise 409 duplicate_import)")
    ] = False,
) -> ImportJobRead:
    job, run = await import_service.start(
        request.app.state.sessionmaker,
        upload=file,
        kind=kind,
        dry_run=dry_run,
        atomic=atomic,
        encoding=encoding,
        delimiter=delimiter,
        principal=principal,
        settings=settings,
        force=force,
    )
    spawn(request.app, "imports", job.id, run.run())
    response.headers["Location"] = f"/imports/{job.id}"
    return ImportJobRead.of(job, [])


@router.get("", response_model=Page[ImportJobRead], summary="Imports, newest first (errors on each job's own page)")
async def list_imports(session: SessionDep, principal: PrincipalDep, page: PageDep) -> Page[ImportJobRead]:
    created_by = None if principal.is_admin else principal.subject
    found = await job_repo.list_page(session, created_by, page.limit, page.cursor)
    return found.map(lambda job: ImportJobRead.of(job, []))


@router.get("/{job_id}", response_model=ImportJobRead, summary="An import: status, progress, counts, first errors")
async def read_import(job_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ImportJobRead:
    job = await import_service.get(session, job_id=job_id, principal=principal)
    return ImportJobRead.of(job, await job_repo.first_errors(session, job_id, FIRST_ERRORS))


@router.get(
    "/{job_id}/errors",
    response_model=Page[RowErrorRead],
    summary="An import's row errors, by row; `format=csv` downloads them all",
    responses={200: {"content": {"text/csv": {}}}},
)
async def list_import_errors(
    job_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    format: ErrorFormat = ErrorFormat.json,
) -> Page[RowErrorRead] | StreamingResponse:
    await import_service.get(session, job_id=job_id, principal=principal)
    if format == ErrorFormat.csv:
        return _errors_csv(request.app.state.read_sessionmaker, job_id)
    found = await job_repo.errors_page(session, job_id, page.limit, page.cursor)
    return found.map(RowErrorRead.of)


@router.get(
    "/{job_id}/errors.csv",
    response_class=StreamingResponse,
    summary="An import's row errors as CSV",
    responses={200: {"content": {"text/csv": {}}}},
)
async def download_import_errors(
    job_id: uuid.UUID, request: Request, session: SessionDep, principal: PrincipalDep
) -> StreamingResponse:
    await import_service.get(session, job_id=job_id, principal=principal)
    return _errors_csv(request.app.state.read_sessionmaker, job_id)


def _errors_csv(sessionmaker: Sessionmaker, job_id: uuid.UUID) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        yield cells.BOM + cells.lines([["row", "column", "code", "message"]])
        cursor: str | None = None
        while True:
            async with sessionmaker() as session:  # one short read per page, none held while streaming
                found = await job_repo.errors_page(session, job_id, 1000, cursor)
            cursor = found.next_cursor
            yield cells.lines(
                [
                    [str(e.row_number), cells.cell(e.column_name), cells.cell(e.code), cells.cell(e.message)]
                    for e in found.items
                ]
            )
            if cursor is None:
                return

    headers = {"Content-Disposition": f'attachment; filename="import-{job_id}-errors.csv"'}
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)
