"""Each customer's purchase statistics, kept as their orders arrive, so that a live run reads one
row per customer instead of aggregating every order; a live run may be asked to rebuild them all
from the orders

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
TS = sa.DateTime(timezone=True)
NUMBERS = ("days", "total", "first_amount", "profit", "window_orders", "window_spend", "annual_profit", "prior_days")


def upgrade() -> None:
    op.create_table(
        "customer_stats",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("basis", sa.String(200), nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("read_at", TS, nullable=False),
        sa.Column("days", sa.Float(), nullable=False),
        sa.Column("first_day", sa.Float(), nullable=True),
        sa.Column("last_day", sa.Float(), nullable=True),
        *(sa.Column(name, sa.Float(), nullable=False) for name in NUMBERS if name != "days"),
        *(sa.Column(f"{edge}_edge", TS, nullable=True) for edge in ("window", "year", "prior", "future")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_stats")),
        schema=SCHEMA,
    )
    op.add_column(
        "scoring_run",
        sa.Column("rebuild_statistics", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema=column_schema(SCHEMA),
    )


def downgrade() -> None:
    op.drop_column("scoring_run", "rebuild_statistics", schema=column_schema(SCHEMA))
    op.drop_table("customer_stats", schema=SCHEMA)
