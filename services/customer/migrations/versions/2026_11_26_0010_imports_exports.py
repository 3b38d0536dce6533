"""imports exports

Revision ID: 0010
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# An import error's sequence number: BIGINT, but INTEGER on SQLite, which autoincrements only that.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "export_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filters", JSON, nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_job")),
        schema=SCHEMA,
    )
    op.create_index("ix_export_job_created_at_id", "export_job", ["created_at", "id"], unique=False, schema=SCHEMA)
    op.create_index(
        "ix_export_job_status_heartbeat_at", "export_job", ["status", "heartbeat_at"], unique=False, schema=SCHEMA
    )
    op.create_table(
        "import_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("atomic", sa.Boolean(), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("delimiter", sa.String(length=1), nullable=False),
        sa.Column("natural_key", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("ignored_columns", JSON, nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
        schema=SCHEMA,
    )
    op.create_index("ix_import_job_created_at_id", "import_job", ["created_at", "id"], unique=False, schema=SCHEMA)
    op.create_index(
        "ix_import_job_status_heartbeat_at", "import_job", ["status", "heartbeat_at"], unique=False, schema=SCHEMA
    )
    op.create_table(
        "import_error",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("column_name", sa.String(length=100), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["customer.import_job.id"], name=op.f("fk_import_error_job_id_import_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_import_error")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_import_error_job_id_row_number_seq",
        "import_error",
        ["job_id", "row_number", "seq"],
        unique=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index("ix_import_error_job_id_row_number_seq", table_name="import_error", schema=SCHEMA)
    op.drop_table("import_error", schema=SCHEMA)
    op.drop_index("ix_import_job_status_heartbeat_at", table_name="import_job", schema=SCHEMA)
    op.drop_index("ix_import_job_created_at_id", table_name="import_job", schema=SCHEMA)
    op.drop_table("import_job", schema=SCHEMA)
    op.drop_index("ix_export_job_status_heartbeat_at", table_name="export_job", schema=SCHEMA)
    op.drop_index("ix_export_job_created_at_id", table_name="export_job", schema=SCHEMA)
    op.drop_table("export_job", schema=SCHEMA)
