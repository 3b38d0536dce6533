"""Orders and contacts can be corrected and deleted: each fact keeps the version of the record it
copies (an older event changes nothing) and a deleted flag (a deleted order is no purchase and a
deleted contact no contact, while a late replay of its first event cannot bring it back)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
TABLES = ("order_fact", "interaction_fact")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table, sa.Column("version", sa.Integer(), nullable=False, server_default="1"), schema=column_schema(SCHEMA)
        )
        op.add_column(
            table,
            sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
            schema=column_schema(SCHEMA),
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "deleted", schema=column_schema(SCHEMA))
        op.drop_column(table, "version", schema=column_schema(SCHEMA))
