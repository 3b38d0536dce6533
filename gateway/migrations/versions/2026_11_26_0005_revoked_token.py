"""Revoked access tokens: signed-out tokens and sessions, kept until they would have expired.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_table(
        "revoked_token",
        sa.Column("token_id", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_revoked_token")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_revoked_token_expires_at"), "revoked_token", ["expires_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index(op.f("ix_revoked_token_expires_at"), table_name="revoked_token", schema=SCHEMA)
    op.drop_table("revoked_token", schema=SCHEMA)
