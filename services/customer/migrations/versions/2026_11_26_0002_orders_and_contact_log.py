"""orders and contact log

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

SCHEMA = "customer"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "interaction",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=500), nullable=True),
        sa.Column("next_follow_up_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.customer.id"], name=op.f("fk_interaction_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_interaction_customer_id_occurred_at",
        "interaction",
        ["customer_id", "occurred_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_interaction_next_follow_up_date"), "interaction", ["next_follow_up_date"], unique=False, schema=SCHEMA
    )
    op.create_index("ix_interaction_occurred_at_id", "interaction", ["occurred_at", "id"], unique=False, schema=SCHEMA)
    op.create_index(op.f("ix_interaction_owner_id"), "interaction", ["owner_id"], unique=False, schema=SCHEMA)
    op.create_table(
        "sales_order",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("margin", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=True),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("items", JSON, nullable=False),
        sa.Column("refund_of", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.customer.id"], name=op.f("fk_sales_order_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["refund_of"], ["customer.sales_order.id"], name=op.f("fk_sales_order_refund_of_sales_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_order")),
        sa.UniqueConstraint("source", "external_ref", name=op.f("uq_sales_order_source_external_ref")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sales_order_customer_id_occurred_at",
        "sales_order",
        ["customer_id", "occurred_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index("ix_sales_order_occurred_at_id", "sales_order", ["occurred_at", "id"], unique=False, schema=SCHEMA)
    op.create_index(op.f("ix_sales_order_refund_of"), "sales_order", ["refund_of"], unique=False, schema=SCHEMA)


def downgrade() -> None:
    op.drop_index(op.f("ix_sales_order_refund_of"), table_name="sales_order", schema=SCHEMA)
    op.drop_index("ix_sales_order_occurred_at_id", table_name="sales_order", schema=SCHEMA)
    op.drop_index("ix_sales_order_customer_id_occurred_at", table_name="sales_order", schema=SCHEMA)
    op.drop_table("sales_order", schema=SCHEMA)
    op.drop_index(op.f("ix_interaction_owner_id"), table_name="interaction", schema=SCHEMA)
    op.drop_index("ix_interaction_occurred_at_id", table_name="interaction", schema=SCHEMA)
    op.drop_index(op.f("ix_interaction_next_follow_up_date"), table_name="interaction", schema=SCHEMA)
    op.drop_index("ix_interaction_customer_id_occurred_at", table_name="interaction", schema=SCHEMA)
    op.drop_table("interaction", schema=SCHEMA)
