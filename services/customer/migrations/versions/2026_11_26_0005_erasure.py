"""erasure: customer.erased_at marks an anonymised customer

Revision ID: 0005
Revises: 0010
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"


def upgrade() -> None:
    op.add_column(
        "customer", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True), schema=column_schema(SCHEMA)
    )


def downgrade() -> None:
    op.drop_column("customer", "erased_at", schema=column_schema(SCHEMA))
