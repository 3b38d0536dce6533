"""contacts, owner history, audit history, points and concessions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_chassis.migrations import column_schema

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "concession",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("reason_note", sa.Text(), nullable=True),
        sa.Column("reciprocal", sa.Text(), nullable=True),
        sa.Column("approver_id", sa.Uuid(), nullable=False),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.customer.id"], name=op.f("fk_concession_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concession")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_concession_customer_id"), "concession", ["customer_id"], unique=False, schema=SCHEMA)
    op.create_table(
        "contact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("is_senior_leader", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["customer.customer.id"], name=op.f("fk_contact_organization_id_customer")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["customer.customer.id"], name=op.f("fk_contact_person_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_contact_organization_id_created_at",
        "contact",
        ["organization_id", "created_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_contact_person_id"), "contact", ["person_id"], unique=False, schema=SCHEMA)
    op.create_table(
        "customer_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("old", JSON, nullable=True),
        sa.Column("new", JSON, nullable=True),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.customer.id"], name=op.f("fk_customer_change_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_change")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_customer_change_customer_id_changed_at",
        "customer_change",
        ["customer_id", "changed_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "owner_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("from_owner_id", sa.Uuid(), nullable=True),
        sa.Column("to_owner_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.customer.id"], name=op.f("fk_owner_change_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owner_change")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_owner_change_customer_id"), "owner_change", ["customer_id"], unique=False, schema=SCHEMA)
    op.create_table(
        "points_entry",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.customer.id"], name=op.f("fk_points_entry_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_entry")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_points_entry_customer_id_created_at",
        "points_entry",
        ["customer_id", "created_at"],
        unique=False,
        schema=SCHEMA,
    )
    columns_in = column_schema(SCHEMA)
    op.add_column(
        "customer", sa.Column("is_key", sa.Boolean(), nullable=False, server_default=sa.false()), schema=columns_in
    )
    op.add_column("customer", sa.Column("key_reason", sa.String(length=200), nullable=True), schema=columns_in)
    op.create_index(op.f("ix_customer_is_key"), "customer", ["is_key"], unique=False, schema=SCHEMA)


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_is_key"), table_name="customer", schema=SCHEMA)
    op.drop_column("customer", "key_reason", schema=column_schema(SCHEMA))
    op.drop_column("customer", "is_key", schema=column_schema(SCHEMA))
    op.drop_index("ix_points_entry_customer_id_created_at", table_name="points_entry", schema=SCHEMA)
    op.drop_table("points_entry", schema=SCHEMA)
    op.drop_index(op.f("ix_owner_change_customer_id"), table_name="owner_change", schema=SCHEMA)
    op.drop_table("owner_change", schema=SCHEMA)
    op.drop_index("ix_customer_change_customer_id_changed_at", table_name="customer_change", schema=SCHEMA)
    op.drop_table("customer_change", schema=SCHEMA)
    op.drop_index(op.f("ix_contact_person_id"), table_name="contact", schema=SCHEMA)
    op.drop_index("ix_contact_organization_id_created_at", table_name="contact", schema=SCHEMA)
    op.drop_table("contact", schema=SCHEMA)
    op.drop_index(op.f("ix_concession_customer_id"), table_name="concession", schema=SCHEMA)
    op.drop_table("concession", schema=SCHEMA)
