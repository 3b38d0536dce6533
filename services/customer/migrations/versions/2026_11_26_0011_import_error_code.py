"""import errors: the stable code of each row error

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"


def upgrade() -> None:
    # Nullable: errors recorded before have no code.
    op.add_column("import_error", sa.Column("code", sa.String(length=50), nullable=True), schema=column_schema(SCHEMA))


def downgrade() -> None:
    op.drop_column("import_error", "code", schema=column_schema(SCHEMA))
