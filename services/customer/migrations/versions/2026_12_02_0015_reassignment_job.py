"""reassignment_job: hand-overs of one account manager's customers to another, with progress

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.db import JsonType, UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"


def upgrade() -> None:
    op.create_table(
        "reassignment_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_owner_id", sa.Uuid(), nullable=False),
        sa.Column("to_owner_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("filter", JsonType, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reassignment_job")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_reassignment_job_from_owner_id"), "reassignment_job", ["from_owner_id"], schema=SCHEMA)
    op.create_index("ix_reassignment_job_created_at_id", "reassignment_job", ["created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_reassignment_job_status_heartbeat_at", "reassignment_job", ["status", "heartbeat_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_reassignment_job_status_heartbeat_at", table_name="reassignment_job", schema=SCHEMA)
    op.drop_index("ix_reassignment_job_created_at_id", table_name="reassignment_job", schema=SCHEMA)
    op.drop_index(op.f("ix_reassignment_job_from_owner_id"), table_name="reassignment_job", schema=SCHEMA)
    op.drop_table("reassignment_job", schema=SCHEMA)
