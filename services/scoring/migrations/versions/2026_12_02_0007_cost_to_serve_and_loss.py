"""Honest money: concessions and service records in the read model (costs to serve), and the
scores that follow from them: cost to serve, yearly profit, the retention rate of P_t = P1 · r^(t−1)
and its basis, and the probabilistic CLV before a customer was lost (the basis of their loss)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
TS = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 2)
SCORE_TABLES = ("customer_score", "run_score")


def upgrade() -> None:
    op.create_table(
        "concession_fact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("value", MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concession_fact")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_concession_fact_customer_id"), "concession_fact", ["customer_id"], schema=SCHEMA)
    op.create_table(
        "service_record_fact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("complaint_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_record_fact")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_service_record_fact_customer_id"), "service_record_fact", ["customer_id"], schema=SCHEMA)
    for table in SCORE_TABLES:
        for column in (
            sa.Column("cost_to_serve", MONEY, nullable=False, server_default="0"),
            sa.Column("yearly_profit", MONEY, nullable=True),
            sa.Column("retention_rate", sa.Float(), nullable=True),
            sa.Column("retention_basis", sa.String(length=16), nullable=True),
            sa.Column("clv_before_loss", MONEY, nullable=True),
        ):
            op.add_column(table, column, schema=column_schema(SCHEMA))


def downgrade() -> None:
    for table in SCORE_TABLES:
        for name in ("clv_before_loss", "retention_basis", "retention_rate", "yearly_profit", "cost_to_serve"):
            op.drop_column(table, name, schema=column_schema(SCHEMA))
    op.drop_table("service_record_fact", schema=SCHEMA)
    op.drop_table("concession_fact", schema=SCHEMA)
