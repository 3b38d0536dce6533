"""user_ref: the read model of user accounts, fed by the gateway's user events

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.db import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"


def upgrade() -> None:
    op.create_table(
        "user_ref",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_ref")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_user_ref_team_id"), "user_ref", ["team_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index(op.f("ix_user_ref_team_id"), table_name="user_ref", schema=SCHEMA)
    op.drop_table("user_ref", schema=SCHEMA)
