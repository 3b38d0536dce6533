"""membership tiers, tiers set by hand, care budgets per ABC class and month; a concession's budget line

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.db import JsonType, UTCDateTime
from crm_chassis.migrations import column_schema

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"
CONCESSION_COLUMNS = ("care_class", "care_period", "overspend", "overspend_approved_by")


def upgrade() -> None:
    op.create_table(
        "loyalty_tier",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("benefits", JsonType, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_tier")),
        sa.UniqueConstraint("name", name=op.f("uq_loyalty_tier_name")),
        sa.UniqueConstraint("threshold", name=op.f("uq_loyalty_tier_threshold")),
        schema=SCHEMA,
    )
    op.create_table(
        "customer_manual_tier",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("tier_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], [f"{SCHEMA}.customer.id"], name=op.f("fk_customer_manual_tier_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["tier_id"], [f"{SCHEMA}.loyalty_tier.id"], name=op.f("fk_customer_manual_tier_tier_id_loyalty_tier")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_manual_tier")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_customer_manual_tier_tier_id"), "customer_manual_tier", ["tier_id"], schema=SCHEMA)
    op.create_table(
        "care_budget",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("care_class", sa.String(length=12), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_budget")),
        sa.UniqueConstraint("care_class", "period", name=op.f("uq_care_budget_care_class_period")),
        schema=SCHEMA,
    )
    schema = column_schema(SCHEMA)
    op.add_column("concession", sa.Column("care_class", sa.String(length=12), nullable=True), schema=schema)
    op.add_column("concession", sa.Column("care_period", sa.String(length=7), nullable=True), schema=schema)
    op.add_column("concession", sa.Column("overspend", sa.Numeric(precision=18, scale=2), nullable=True), schema=schema)
    op.add_column("concession", sa.Column("overspend_approved_by", sa.String(length=200), nullable=True), schema=schema)
    op.create_index("ix_concession_care_period_care_class", "concession", ["care_period", "care_class"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_concession_care_period_care_class", table_name="concession", schema=SCHEMA)
    for name in reversed(CONCESSION_COLUMNS):
        op.drop_column("concession", name, schema=column_schema(SCHEMA))
    op.drop_table("care_budget", schema=SCHEMA)
    op.drop_index(op.f("ix_customer_manual_tier_tier_id"), table_name="customer_manual_tier", schema=SCHEMA)
    op.drop_table("customer_manual_tier", schema=SCHEMA)
    op.drop_table("loyalty_tier", schema=SCHEMA)
