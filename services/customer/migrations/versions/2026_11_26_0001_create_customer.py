"""create customer

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_chassis.tables import create_infra_tables_v1, drop_infra_tables_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    create_infra_tables_v1(SCHEMA)
    op.create_table(
        "customer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("other_contacts", JSON, nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("custom_fields", JSON, nullable=False),
        sa.Column("address", JSON, nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("gender", sa.String(length=16), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("age_band", sa.String(length=16), nullable=True),
        sa.Column("education", sa.String(length=16), nullable=True),
        sa.Column("occupation", sa.String(length=100), nullable=True),
        sa.Column("family_status", sa.String(length=32), nullable=True),
        sa.Column("hobbies", JSON, nullable=False),
        sa.Column("personality_notes", sa.Text(), nullable=True),
        sa.Column("taboos", JSON, nullable=False),
        sa.Column("preferences", JSON, nullable=False),
        sa.Column("best_contact_time", sa.String(length=100), nullable=True),
        sa.Column("purchasing_power", sa.String(length=16), nullable=True),
        sa.Column("has_purchase_authority", sa.Boolean(), nullable=True),
        sa.Column("needs_product", sa.Boolean(), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("company_size", sa.String(length=16), nullable=True),
        sa.Column("business_lines", JSON, nullable=False),
        sa.Column("management", sa.Text(), nullable=True),
        sa.Column("purchasing_activities", sa.Text(), nullable=True),
        sa.Column("acquisition_channel", sa.String(length=32), nullable=True),
        sa.Column("referred_by", sa.Uuid(), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column("loyalty_stage", sa.String(length=16), nullable=True),
        sa.Column("relationship_level", sa.String(length=16), nullable=True),
        sa.Column("loyalty_kind", sa.String(length=16), nullable=True),
        sa.Column("membership_tier", sa.String(length=50), nullable=True),
        sa.Column("marketing_consent", sa.Boolean(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referred_by"], ["customer.customer.id"], name=op.f("fk_customer_referred_by_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_customer_external_ref")),
        schema=SCHEMA,
    )
    op.create_index("ix_customer_created_at_id", "customer", ["created_at", "id"], unique=False, schema=SCHEMA)
    op.create_index(op.f("ix_customer_email"), "customer", ["email"], unique=False, schema=SCHEMA)
    op.create_index("ix_customer_lifecycle_stage", "customer", ["lifecycle_stage"], unique=False, schema=SCHEMA)
    op.create_index("ix_customer_name_id", "customer", ["name", "id"], unique=False, schema=SCHEMA)
    op.create_index(op.f("ix_customer_owner_id"), "customer", ["owner_id"], unique=False, schema=SCHEMA)
    op.create_index(op.f("ix_customer_phone"), "customer", ["phone"], unique=False, schema=SCHEMA)
    op.create_index(op.f("ix_customer_referred_by"), "customer", ["referred_by"], unique=False, schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("customer", schema=SCHEMA)
    drop_infra_tables_v1(SCHEMA)
