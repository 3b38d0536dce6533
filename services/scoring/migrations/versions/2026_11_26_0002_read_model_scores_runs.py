"""read model of orders, contacts, complaints and responses; scores, runs, models, settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 2)


def _batch_schema() -> str | None:
    # SQLite has no schemas and batch operations bypass the schema translation of the connection
    return None if op.get_bind().dialect.name == "sqlite" else SCHEMA


def upgrade() -> None:
    with op.batch_alter_table("customer_ref", schema=_batch_schema()) as batch:
        batch.add_column(sa.Column("referred_by", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("merged_into", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("created_at", TS, nullable=True))
        batch.create_index(op.f("ix_customer_ref_referred_by"), ["referred_by"], unique=False)

    op.create_table(
        "order_fact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("net_amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("margin", sa.Numeric(9, 4), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("refund_of", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_fact")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_order_fact_customer_id_occurred_at", "order_fact", ["customer_id", "occurred_at"], schema=SCHEMA
    )
    op.create_index(op.f("ix_order_fact_refund_of"), "order_fact", ["refund_of"], schema=SCHEMA)

    op.create_table(
        "interaction_fact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("next_follow_up_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction_fact")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_interaction_fact_customer_id_occurred_at", "interaction_fact", ["customer_id", "occurred_at"], schema=SCHEMA
    )

    op.create_table(
        "complaint_fact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("opened_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("retained", sa.Boolean(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_fact")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_complaint_fact_customer_id"), "complaint_fact", ["customer_id"], schema=SCHEMA)

    op.create_table(
        "survey_response_fact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=True),
        sa.Column("survey_kind", sa.String(length=32), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("responded_at", TS, nullable=False),
        sa.Column("nps", sa.Float(), nullable=True),
        sa.Column("csat", sa.Float(), nullable=True),
        sa.Column("satisfaction_index", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response_fact")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_survey_response_fact_customer_id"), "survey_response_fact", ["customer_id"], schema=SCHEMA)

    op.create_table(
        "rescore_request",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_rescore_request")),
        schema=SCHEMA,
    )

    op.create_table(
        "customer_score",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("scored_at", TS, nullable=False),
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
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_score")),
        schema=SCHEMA,
    )
    for column in ("rfm_segment", "abc_class", "value_segment", "churn_risk", "care_status"):
        op.create_index(op.f(f"ix_customer_score_{column}"), "customer_score", [column], schema=SCHEMA)
    op.create_index("ix_customer_score_care_due_date", "customer_score", ["care_due_date"], schema=SCHEMA)

    op.create_table(
        "scoring_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Integer(), nullable=True),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("timings", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_run")),
        sa.UniqueConstraint("active", name=op.f("uq_scoring_run_active")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_scoring_run_created_at"), "scoring_run", ["created_at"], schema=SCHEMA)

    op.create_table(
        "scoring_model",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("model", JSON, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_scoring_model")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_scoring_model_created_at"), "scoring_model", ["created_at"], schema=SCHEMA)

    op.create_table(
        "scoring_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("values", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_settings")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "scoring_settings",
        "scoring_model",
        "scoring_run",
        "customer_score",
        "rescore_request",
        "survey_response_fact",
        "complaint_fact",
        "interaction_fact",
        "order_fact",
    ):
        op.drop_table(table, schema=SCHEMA)
    with op.batch_alter_table("customer_ref", schema=_batch_schema()) as batch:
        batch.drop_index(op.f("ix_customer_ref_referred_by"))
        batch.drop_column("created_at")
        batch.drop_column("merged_into")
        batch.drop_column("referred_by")
