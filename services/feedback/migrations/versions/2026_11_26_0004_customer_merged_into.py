"""customer_ref.merged_into: a merged-away customer takes no new records until the merge is undone

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.add_column("customer_ref", sa.Column("merged_into", sa.Uuid(), nullable=True), schema=column_schema(SCHEMA))


def downgrade() -> None:
    op.drop_column("customer_ref", "merged_into", schema=column_schema(SCHEMA))
