"""complaint.sla_warnings: what a complaint's deadlines could not take into account

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_chassis.migrations import column_schema

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "feedback"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column(
        "complaint",
        sa.Column("sla_warnings", JSON, nullable=False, server_default=sa.text("'[]'")),
        schema=column_schema(SCHEMA),
    )


def downgrade() -> None:
    op.drop_column("complaint", "sla_warnings", schema=column_schema(SCHEMA))
