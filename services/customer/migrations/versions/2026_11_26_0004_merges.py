"""customer merges, undoable: customer.merged_into and the merge record

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_chassis.migrations import column_schema

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "customer_merge",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("duplicate_id", sa.Uuid(), nullable=False),
        sa.Column("survivor_before", JSON, nullable=False),
        sa.Column("moved", JSON, nullable=False),
        sa.Column("merged_by", sa.String(length=200), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undo_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["duplicate_id"], ["customer.customer.id"], name=op.f("fk_customer_merge_duplicate_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"], ["customer.customer.id"], name=op.f("fk_customer_merge_survivor_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merge")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_customer_merge_duplicate_id"), "customer_merge", ["duplicate_id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        op.f("ix_customer_merge_survivor_id"), "customer_merge", ["survivor_id"], unique=False, schema=SCHEMA
    )
    op.add_column("customer", sa.Column("merged_into", sa.Uuid(), nullable=True), schema=column_schema(SCHEMA))


def downgrade() -> None:
    op.drop_column("customer", "merged_into", schema=column_schema(SCHEMA))
    op.drop_index(op.f("ix_customer_merge_survivor_id"), table_name="customer_merge", schema=SCHEMA)
    op.drop_index(op.f("ix_customer_merge_duplicate_id"), table_name="customer_merge", schema=SCHEMA)
    op.drop_table("customer_merge", schema=SCHEMA)
