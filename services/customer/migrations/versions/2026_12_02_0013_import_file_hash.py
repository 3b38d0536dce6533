"""import jobs: the SHA-256 of each uploaded file, to refuse an identical re-upload

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"


def upgrade() -> None:
    # Nullable: jobs accepted before have no recorded hash.
    op.add_column(
        "import_job", sa.Column("file_sha256", sa.String(length=64), nullable=True), schema=column_schema(SCHEMA)
    )
    op.create_index(
        "ix_import_job_created_by_kind_file_sha256",
        "import_job",
        ["created_by", "kind", "file_sha256"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index("ix_import_job_created_by_kind_file_sha256", table_name="import_job", schema=SCHEMA)
    op.drop_column("import_job", "file_sha256", schema=column_schema(SCHEMA))
