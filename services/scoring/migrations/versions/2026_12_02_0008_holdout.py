"""A backtest may name the end of a holdout period, against which its predictions are validated

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    op.add_column(
        "scoring_run",
        sa.Column("holdout_until", sa.DateTime(timezone=True), nullable=True),
        schema=column_schema(SCHEMA),
    )


def downgrade() -> None:
    op.drop_column("scoring_run", "holdout_until", schema=column_schema(SCHEMA))
