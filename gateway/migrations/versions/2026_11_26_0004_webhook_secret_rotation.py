"""Webhook secret rotation: the secrets a rotation replaced, signing until their overlap ends.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_chassis.migrations import column_schema

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "gateway"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column(
        "webhook_subscription", sa.Column("retired_secrets", JSON, nullable=True), schema=column_schema(SCHEMA)
    )
    op.add_column(
        "webhook_subscription",
        sa.Column("retired_secrets_until", sa.DateTime(timezone=True), nullable=True),
        schema=column_schema(SCHEMA),
    )
    op.add_column(
        "webhook_subscription",
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True),
        schema=column_schema(SCHEMA),
    )
    op.create_index(
        op.f("ix_webhook_subscription_retired_secrets_until"),
        "webhook_subscription",
        ["retired_secrets_until"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_webhook_subscription_retired_secrets_until"), table_name="webhook_subscription", schema=SCHEMA
    )
    op.drop_column("webhook_subscription", "secret_rotated_at", schema=column_schema(SCHEMA))
    op.drop_column("webhook_subscription", "retired_secrets_until", schema=column_schema(SCHEMA))
    op.drop_column("webhook_subscription", "retired_secrets", schema=column_schema(SCHEMA))
