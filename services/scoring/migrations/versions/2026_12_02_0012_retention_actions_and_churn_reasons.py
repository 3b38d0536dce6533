"""Churn countermeasures and reasons: retention actions opened for customers who turn at risk or
lost in a segment worth winning back or retaining (at most one open per customer), and the churn
reasons recorded by hand or answered in an exit survey

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
TS = sa.DateTime(timezone=True)
OPEN_ONLY = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table(
        "retention_action",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("countermeasure", sa.String(length=16), nullable=False),
        sa.Column("suggestion", sa.String(length=16), nullable=False),
        sa.Column("value_segment", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_action")),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_retention_action_open_customer_id",
        "retention_action",
        ["customer_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=OPEN_ONLY,
        sqlite_where=OPEN_ONLY,
    )
    op.create_index(
        "ix_retention_action_customer_id_created_at", "retention_action", ["customer_id", "created_at"], schema=SCHEMA
    )
    op.create_index("ix_retention_action_due_date_id", "retention_action", ["due_date", "id"], schema=SCHEMA)
    op.create_table(
        "churn_reason",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("response_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_churn_reason")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_churn_reason_customer_id_recorded_at_id",
        "churn_reason",
        ["customer_id", "recorded_at", "id"],
        schema=SCHEMA,
    )
    op.create_index("ix_churn_reason_recorded_at", "churn_reason", ["recorded_at"], schema=SCHEMA)
    op.create_index(
        "uq_churn_reason_response_id_code", "churn_reason", ["response_id", "code"], unique=True, schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("churn_reason", schema=SCHEMA)
    op.drop_table("retention_action", schema=SCHEMA)
