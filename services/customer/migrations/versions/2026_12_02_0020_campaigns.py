"""campaigns: the campaign, its members, their responses, the start job; orders may name a campaign;
an import's kind may be `campaign_responses` (longer than 16)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.db import JsonType, UTCDateTime
from crm_chassis.migrations import column_schema

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("goal", sa.String(length=1000), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("budget", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("actual_cost", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target", JsonType, nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("excluded_without_consent", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_campaign_owner_id"), "campaign", ["owner_id"], schema=SCHEMA)
    op.create_index("ix_campaign_created_at_id", "campaign", ["created_at", "id"], schema=SCHEMA)
    op.create_table(
        "campaign_member",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("last_response_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], [f"{SCHEMA}.campaign.id"], name=op.f("fk_campaign_member_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], [f"{SCHEMA}.customer.id"], name=op.f("fk_campaign_member_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", name=op.f("pk_campaign_member")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_campaign_member_customer_id"), "campaign_member", ["customer_id"], schema=SCHEMA)
    op.create_table(
        "campaign_response",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("value", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], [f"{SCHEMA}.campaign.id"], name=op.f("fk_campaign_response_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], [f"{SCHEMA}.customer.id"], name=op.f("fk_campaign_response_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_response")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_campaign_response_customer_id"), "campaign_response", ["customer_id"], schema=SCHEMA)
    op.create_index(
        "ix_campaign_response_campaign_id_occurred_at_id",
        "campaign_response",
        ["campaign_id", "occurred_at", "id"],
        schema=SCHEMA,
    )
    op.create_table(
        "campaign_snapshot",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.Integer(), nullable=False),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], [f"{SCHEMA}.campaign.id"], name=op.f("fk_campaign_snapshot_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_snapshot")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_campaign_snapshot_campaign_id"), "campaign_snapshot", ["campaign_id"], schema=SCHEMA)
    op.create_index(
        "ix_campaign_snapshot_status_heartbeat_at", "campaign_snapshot", ["status", "heartbeat_at"], schema=SCHEMA
    )
    # No foreign key: SQLite cannot add one to an existing table; the service checks the campaign exists.
    op.add_column("sales_order", sa.Column("campaign_id", sa.Uuid(), nullable=True), schema=column_schema(SCHEMA))
    op.create_index(op.f("ix_sales_order_campaign_id"), "sales_order", ["campaign_id"], schema=SCHEMA)
    _import_kind_length(32)


def _import_kind_length(length: int) -> None:
    # SQLite does not enforce a VARCHAR's length (and cannot alter a column without a table copy).
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("import_job", "kind", type_=sa.String(length=length), schema=SCHEMA)


def downgrade() -> None:
    _import_kind_length(16)
    op.drop_index(op.f("ix_sales_order_campaign_id"), table_name="sales_order", schema=SCHEMA)
    op.drop_column("sales_order", "campaign_id", schema=column_schema(SCHEMA))
    op.drop_index("ix_campaign_snapshot_status_heartbeat_at", table_name="campaign_snapshot", schema=SCHEMA)
    op.drop_index(op.f("ix_campaign_snapshot_campaign_id"), table_name="campaign_snapshot", schema=SCHEMA)
    op.drop_table("campaign_snapshot", schema=SCHEMA)
    op.drop_index("ix_campaign_response_campaign_id_occurred_at_id", table_name="campaign_response", schema=SCHEMA)
    op.drop_index(op.f("ix_campaign_response_customer_id"), table_name="campaign_response", schema=SCHEMA)
    op.drop_table("campaign_response", schema=SCHEMA)
    op.drop_index(op.f("ix_campaign_member_customer_id"), table_name="campaign_member", schema=SCHEMA)
    op.drop_table("campaign_member", schema=SCHEMA)
    op.drop_index("ix_campaign_created_at_id", table_name="campaign", schema=SCHEMA)
    op.drop_index(op.f("ix_campaign_owner_id"), table_name="campaign", schema=SCHEMA)
    op.drop_table("campaign", schema=SCHEMA)
