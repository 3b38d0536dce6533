"""Backtests: a run says whether it is live or a backtest, and a backtest keeps its per-customer
results under the run (`run_score`, the same score columns as `customer_score`) instead of
rewriting the live cards

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
TS = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 2)


def upgrade() -> None:
    op.add_column(
        "scoring_run",
        sa.Column("mode", sa.String(length=16), nullable=False, server_default="live"),
        schema=column_schema(SCHEMA),
    )
    op.create_table(
        "run_score",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("purchase_days", sa.Integer(), nullable=False),
        sa.Column("first_purchase_date", sa.Date(), nullable=True),
        sa.Column("last_purchase_date", sa.Date(), nullable=True),
        sa.Column("total_spend", MONEY, nullable=False),
        sa.Column("avg_spend", MONEY, nullable=True),
        sa.Column("repeat_avg_spend", MONEY, nullable=True),
        sa.Column("cycle_days", sa.Float(), nullable=True),
        sa.Column("annual_profit", MONEY, nullable=False),
        sa.Column("margin_rate", sa.Float(), nullable=True),
        sa.Column("recency_days", sa.Integer(), nullable=True),
        sa.Column("window_orders", sa.Integer(), nullable=False),
        sa.Column("window_spend", MONEY, nullable=False),
        sa.Column("referrals", sa.Integer(), nullable=False),
        sa.Column("open_complaints", sa.Integer(), nullable=False),
        sa.Column("sla_breaches", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.Float(), nullable=True),
        sa.Column("nps", sa.Float(), nullable=True),
        sa.Column("csat", sa.Float(), nullable=True),
        sa.Column("last_contact_at", TS, nullable=True),
        sa.Column("rfm_r", sa.Integer(), nullable=True),
        sa.Column("rfm_f", sa.Integer(), nullable=True),
        sa.Column("rfm_m", sa.Integer(), nullable=True),
        sa.Column("rfm_segment", sa.String(length=32), nullable=True),
        sa.Column("clv_simple", MONEY, nullable=True),
        sa.Column("clv_discounted", MONEY, nullable=True),
        sa.Column("clv_probabilistic", MONEY, nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("expected_purchases", sa.Float(), nullable=True),
        sa.Column("abc_value", sa.Float(), nullable=False),
        sa.Column("abc_class", sa.String(length=1), nullable=False),
        sa.Column("key_customer_kind", sa.String(length=16), nullable=True),
        sa.Column("value_segment", sa.String(length=32), nullable=True),
        sa.Column("segment_rule", sa.String(length=32), nullable=True),
        sa.Column("loyalty_stage", sa.String(length=16), nullable=False),
        sa.Column("relationship_level", sa.String(length=16), nullable=True),
        sa.Column("churn_risk", sa.Float(), nullable=True),
        sa.Column("churn_reasons", sa.Integer(), nullable=False),
        sa.Column("lifecycle_suggestion", sa.String(length=16), nullable=True),
        sa.Column("care_status", sa.String(length=16), nullable=True),
        sa.Column("care_due_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "customer_id", name=op.f("pk_run_score")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("run_score", schema=SCHEMA)
    op.drop_column("scoring_run", "mode", schema=column_schema(SCHEMA))
