"""Organisations' contact persons in the read model, so that the senior leaders of key
organisations are key customers for care too; what the care list shows to make contact
(phone, preferred channel, best time, the last contact's summary); contacts within the
too-frequent window on the scores; follow-ups done; influence level and
industry standing

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
SCORE_TABLES = ("customer_score", "run_score")


def upgrade() -> None:
    op.create_table(
        "contact_fact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("senior_leader", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("removed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_fact")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_contact_fact_organization_id"), "contact_fact", ["organization_id"], schema=SCHEMA)
    op.create_index(op.f("ix_contact_fact_customer_id"), "contact_fact", ["customer_id"], schema=SCHEMA)
    for column in (
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("preferred_channel", sa.String(16), nullable=True),
        sa.Column("best_contact_time", sa.String(100), nullable=True),
        sa.Column("influence_level", sa.String(16), nullable=True),
        sa.Column("industry_standing", sa.String(200), nullable=True),
    ):
        op.add_column("customer_ref", column, schema=column_schema(SCHEMA))
    op.add_column("interaction_fact", sa.Column("summary", sa.Text(), nullable=True), schema=column_schema(SCHEMA))
    op.add_column(
        "interaction_fact",
        sa.Column("follow_up_done", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema=column_schema(SCHEMA),
    )
    for table in SCORE_TABLES:
        op.add_column(
            table,
            sa.Column("recent_contacts", sa.Integer(), nullable=False, server_default="0"),
            schema=column_schema(SCHEMA),
        )


def downgrade() -> None:
    for table in SCORE_TABLES:
        op.drop_column(table, "recent_contacts", schema=column_schema(SCHEMA))
    op.drop_column("interaction_fact", "follow_up_done", schema=column_schema(SCHEMA))
    op.drop_column("interaction_fact", "summary", schema=column_schema(SCHEMA))
    for name in ("industry_standing", "influence_level", "best_contact_time", "preferred_channel", "phone"):
        op.drop_column("customer_ref", name, schema=column_schema(SCHEMA))
    op.drop_table("contact_fact", schema=SCHEMA)
