"""Shapes of `/imports`: the job as API.md names it, `{id, status, progress: {done, total}, ...}`."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, Field

from crm_customer.imports.models import ImportJob, ImportRowError
from crm_customer.job_schemas import JobReadEnd


class ImportKind(StrEnum):
    customers = "customers"
    contacts = "contacts"
    orders = "orders"
    interactions = "interactions"
    campaign_responses = "campaign_responses"


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Encoding(StrEnum):
    utf_8 = "utf-8"
    gb18030 = "gb18030"


class Delimiter(StrEnum):
    auto = "auto"
    comma = "comma"
    semicolon = "semicolon"


class Progress(BaseModel):
    done: int = Field(description="data rows processed so far")
    total: int | None = Field(description="data rows in the file (null while unknown)")


class Counts(BaseModel):
    created: int
    updated: int
    skipped: int = Field(description="rows that matched a record and changed nothing (e.g. an order posted again)")
    failed: int


class RowErrorRead(BaseModel):
    row: int = Field(description="the row as a spreadsheet shows it: the header is row 1, the first record row 2")
    column: str | None = Field(description="the column at fault, null when the row as a whole is")
    code: str | None = Field(
        description="stable, as the API codes the same fault (`unknown_customer`, `refund_exceeds_amount`, "
        "`greater_than`...); null on errors recorded before codes were kept"
    )
    message: str

    @classmethod
    def of(cls, error: ImportRowError) -> RowErrorRead:
        return cls(row=error.row_number, column=error.column_name, code=error.code, message=error.message)


class ImportJobFields(BaseModel):
    """`ImportJobRead`'s own fields, which the public shape lists before `JobReadEnd`'s."""

    id: uuid.UUID
    kind: ImportKind
    status: JobStatus
    dry_run: bool = Field(description="validated only: counts say what would have happened, nothing was written")
    atomic: bool = Field(description="all rows or none: any failed row means nothing was written")
    natural_key: str = Field(description="how rows are matched to existing records")
    encoding: Encoding
    delimiter: str
    filename: str | None
    file_sha256: str | None = Field(description="SHA-256 of the uploaded file: the same file again is refused")
    ignored_columns: list[str] = Field(description="read-only columns of an export, accepted and not imported")
    progress: Progress
    counts: Counts
    error_count: int = Field(description="row errors recorded; the first ones are in `errors`")
    errors: list[RowErrorRead]


class ImportJobRead(JobReadEnd, ImportJobFields):
    @classmethod
    def of(cls, job: ImportJob, errors: list[ImportRowError]) -> ImportJobRead:
        return cls(
            id=job.id,
            kind=ImportKind(job.kind),
            status=JobStatus(job.status),
            dry_run=job.dry_run,
            atomic=job.atomic,
            natural_key=job.natural_key,
            encoding=Encoding(job.encoding),
            delimiter=job.delimiter,
            filename=job.filename,
            file_sha256=job.file_sha256,
            ignored_columns=job.ignored_columns,
            progress=Progress(done=job.done, total=job.total),
            counts=Counts(
                created=job.created_count,
                updated=job.updated_count,
                skipped=job.skipped_count,
                failed=job.failed_count,
            ),
            error_count=job.error_count,
            errors=[RowErrorRead.of(e) for e in errors],
            **JobReadEnd.values_of(job),
        )
