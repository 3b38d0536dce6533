"""create feedback: infrastructure tables and the customer read model

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.tables import create_infra_tables_v1, drop_infra_tables_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    create_infra_tables_v1(SCHEMA)
    op.create_table(
        "customer_ref",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_ref")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_customer_ref_owner_id"), "customer_ref", ["owner_id"], unique=False, schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("customer_ref", schema=SCHEMA)
    drop_infra_tables_v1(SCHEMA)
