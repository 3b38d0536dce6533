"""customer contact preferences for care lists (preferred channel); follow-ups that can be done;
influence level and industry standing; the need level replaces the yes/no "needs the product"
(true becomes `medium`, false `none`)

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"


def _need_columns() -> sa.TableClause:
    return sa.table(
        "customer",
        sa.column("needs_product", sa.Boolean()),
        sa.column("need_level", sa.String()),
        schema=column_schema(SCHEMA),
    )


def upgrade() -> None:
    for column in (
        sa.Column("preferred_channel", sa.String(16), nullable=True),
        sa.Column("influence_level", sa.String(16), nullable=True),
        sa.Column("industry_standing", sa.String(200), nullable=True),
    ):
        op.add_column("customer", column, schema=column_schema(SCHEMA))
    op.add_column("customer", sa.Column("need_level", sa.String(16), nullable=True), schema=column_schema(SCHEMA))
    customer = _need_columns()
    op.execute(
        customer.update()
        .where(customer.c.needs_product.is_not(None))
        .values(need_level=sa.case((customer.c.needs_product.is_(True), "medium"), else_="none"))
    )
    op.drop_column("customer", "needs_product", schema=column_schema(SCHEMA))
    for column in (
        sa.Column("follow_up_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_done_by", sa.String(200), nullable=True),
        sa.Column("closes_follow_up", sa.Boolean(), nullable=False, server_default=sa.false()),
    ):
        op.add_column("interaction", column, schema=column_schema(SCHEMA))


def downgrade() -> None:
    for name in ("closes_follow_up", "follow_up_done_by", "follow_up_done_at"):
        op.drop_column("interaction", name, schema=column_schema(SCHEMA))
    op.add_column("customer", sa.Column("needs_product", sa.Boolean(), nullable=True), schema=column_schema(SCHEMA))
    customer = _need_columns()
    op.execute(
        customer.update()
        .where(customer.c.need_level.is_not(None))
        .values(needs_product=customer.c.need_level != "none")
    )
    op.drop_column("customer", "need_level", schema=column_schema(SCHEMA))
    for name in ("industry_standing", "influence_level", "preferred_channel"):
        op.drop_column("customer", name, schema=column_schema(SCHEMA))
