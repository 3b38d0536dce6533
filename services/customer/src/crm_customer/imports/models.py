from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType
from crm_customer.db import Base
from crm_customer.job_models import JobColumns

SeqType = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


class ImportJob(JobColumns, Base):
    """One uploaded CSV file and what became of its rows."""

    __tablename__ = "import_job"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    atomic: Mapped[bool] = mapped_column(Boolean)
    encoding: Mapped[str] = mapped_column(String(16))
    delimiter: Mapped[str] = mapped_column(String(1))
    natural_key: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str | None] = mapped_column(String(255))
    ignored_columns: Mapped[list[str]] = mapped_column(JsonType, default=list)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    # SHA-256 of the uploaded bytes: the same file sent again is refused unless forced. Listed after
    # the job columns, where the migration that added it put it.
    file_sha256: Mapped[str | None] = mapped_column(String(64), sort_order=1)

    __table_args__ = (
        Index("ix_import_job_created_at_id", "created_at", "id"),
        Index("ix_import_job_status_heartbeat_at", "status", "heartbeat_at"),
        Index("ix_import_job_created_by_kind_file_sha256", "created_by", "kind", "file_sha256"),
    )


class ImportRowError(Base):
    """Why one row (or one cell of it) was not imported."""

    __tablename__ = "import_error"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("import_job.id", ondelete="CASCADE"))
    # Counted as a spreadsheet shows it: the header is row 1, the first record row 2.
    row_number: Mapped[int] = mapped_column(Integer)
    column_name: Mapped[str | None] = mapped_column(String(100))
    # The API's error code for the same fault (`unknown_customer`, `greater_than`...); null on errors
    # recorded before codes were kept.
    code: Mapped[str | None] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_import_error_job_id_row_number_seq", "job_id", "row_number", "seq"),)
