"""The latest CSAT rating on each score, a churn signal beside the satisfaction index and NPS

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    op.add_column("customer_score", sa.Column("csat", sa.Float(), nullable=True), schema=column_schema(SCHEMA))


def downgrade() -> None:
    op.drop_column("customer_score", "csat", schema=column_schema(SCHEMA))
