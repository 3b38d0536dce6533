"""Campaign responses in the read model, and the last engaging one on the scores (a churn-risk
reason of weight 0: a sign of engagement)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
SCORE_TABLES = ("customer_score", "run_score")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign_response_fact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_response_fact")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_campaign_response_fact_customer_id_occurred_at",
        "campaign_response_fact",
        ["customer_id", "occurred_at"],
        schema=SCHEMA,
    )
    for table in SCORE_TABLES:
        op.add_column(table, sa.Column("last_campaign_response_at", TS, nullable=True), schema=column_schema(SCHEMA))
        op.add_column(
            table, sa.Column("last_campaign_response_type", sa.String(16), nullable=True), schema=column_schema(SCHEMA)
        )


def downgrade() -> None:
    for table in SCORE_TABLES:
        op.drop_column(table, "last_campaign_response_type", schema=column_schema(SCHEMA))
        op.drop_column(table, "last_campaign_response_at", schema=column_schema(SCHEMA))
    op.drop_table("campaign_response_fact", schema=SCHEMA)
