"""lifecycle that moves: the cause of each stage change, and scoring's suggestions on the customer

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.db import UTCDateTime
from crm_chassis.migrations import column_schema

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"
CUSTOMER_COLUMNS = (
    ("lifecycle_cause", sa.String(length=200)),
    ("lifecycle_set_by", sa.String(length=200)),
    ("lifecycle_changed_at", UTCDateTime()),
    ("suggested_value_segment", sa.String(length=32)),
    ("suggested_abc_class", sa.String(length=1)),
    ("suggested_churn_risk", sa.Float()),
    ("suggested_lifecycle_stage", sa.String(length=16)),
    ("suggested_loyalty_stage", sa.String(length=16)),
    ("suggested_relationship_level", sa.String(length=16)),
    ("suggested_at", UTCDateTime()),
)


def upgrade() -> None:
    schema = column_schema(SCHEMA)
    for name, type_ in CUSTOMER_COLUMNS:
        op.add_column("customer", sa.Column(name, type_, nullable=True), schema=schema)
    op.add_column(
        "customer",
        sa.Column("suggestions_version", sa.Integer(), nullable=False, server_default="0"),
        schema=schema,
    )
    op.add_column("customer_change", sa.Column("cause", sa.String(length=200), nullable=True), schema=schema)


def downgrade() -> None:
    schema = column_schema(SCHEMA)
    op.drop_column("customer_change", "cause", schema=schema)
    op.drop_column("customer", "suggestions_version", schema=schema)
    for name, _ in reversed(CUSTOMER_COLUMNS):
        op.drop_column("customer", name, schema=schema)
