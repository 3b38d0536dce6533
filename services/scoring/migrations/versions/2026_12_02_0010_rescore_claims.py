"""A re-scoring request records who took it, so that only the requests a run or a drain saw are
dropped when it ends: a renewal made meanwhile clears the claim and stays queued

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    op.add_column("rescore_request", sa.Column("claimed_by", sa.Uuid(), nullable=True), schema=column_schema(SCHEMA))


def downgrade() -> None:
    op.drop_column("rescore_request", "claimed_by", schema=column_schema(SCHEMA))
