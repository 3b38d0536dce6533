"""What a merge gave the survivor of the service's own records (churn reasons, retention actions),
so that its undo gives back exactly those

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    op.create_table(
        "merge_move",
        sa.Column("duplicate_id", sa.Uuid(), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("duplicate_id", "survivor_id", "kind", "record_id", name=op.f("pk_merge_move")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("merge_move", schema=SCHEMA)
