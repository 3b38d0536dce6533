"""Scores keep only their primary key: a full run rewrites every row, and each index is paid per row

The list filters page in customer id order, so PostgreSQL walks the primary key and filters (the
care list starts from the owner's customers); the single-column indexes on labels, risk and due
date were never chosen for those plans, yet together they made updating a score row 1.7 times as
slow: 2.6 s instead of 1.5 s per 100,000 customers (docs/performance.md, full scoring run).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
INDEXED = ("rfm_segment", "abc_class", "value_segment", "churn_risk", "care_status", "care_due_date")


def upgrade() -> None:
    for column in INDEXED:
        op.drop_index(f"ix_customer_score_{column}", table_name="customer_score", schema=SCHEMA)


def downgrade() -> None:
    for column in INDEXED:
        op.create_index(f"ix_customer_score_{column}", "customer_score", [column], schema=SCHEMA)
