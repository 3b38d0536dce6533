"""Identity for a real company: managers' teams, refresh tokens, login lockout, API keys, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from crm_chassis.migrations import column_schema

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "gateway"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
        schema=SCHEMA,
    )
    op.create_table(
        "audit_event",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal_kind", sa.String(length=16), nullable=True),
        sa.Column("principal_id", sa.String(length=200), nullable=True),
        sa.Column("principal_name", sa.String(length=320), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_audit_event_occurred_at"), "audit_event", ["occurred_at"], schema=SCHEMA)
    op.create_index("ix_audit_event_principal_id_seq", "audit_event", ["principal_id", "seq"], schema=SCHEMA)
    op.create_table(
        "login_failure",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failure")),
        schema=SCHEMA,
    )
    op.create_table(
        "refresh_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [f"{SCHEMA}.user_account.id"],
            name=op.f("fk_refresh_token_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_token_token_hash")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_refresh_token_family_id"), "refresh_token", ["family_id"], schema=SCHEMA)
    op.create_index(op.f("ix_refresh_token_user_id"), "refresh_token", ["user_id"], schema=SCHEMA)
    op.add_column("user_account", sa.Column("manager_id", sa.Uuid(), nullable=True), schema=column_schema(SCHEMA))
    op.add_column(
        "user_account",
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        schema=column_schema(SCHEMA),
    )
    op.create_index(op.f("ix_user_account_manager_id"), "user_account", ["manager_id"], schema=SCHEMA)
    # SQLite cannot add a constraint to an existing table; users are never deleted there anyway,
    # so the only thing the key would add (SET NULL on delete) never comes into play.
    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key(
            op.f("fk_user_account_manager_id_user_account"),
            "user_account",
            "user_account",
            ["manager_id"],
            ["id"],
            source_schema=SCHEMA,
            referent_schema=SCHEMA,
            ondelete="SET NULL",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(
            op.f("fk_user_account_manager_id_user_account"), "user_account", schema=SCHEMA, type_="foreignkey"
        )
    op.drop_index(op.f("ix_user_account_manager_id"), table_name="user_account", schema=SCHEMA)
    op.drop_column("user_account", "version", schema=column_schema(SCHEMA))
    op.drop_column("user_account", "manager_id", schema=column_schema(SCHEMA))
    op.drop_index(op.f("ix_refresh_token_user_id"), table_name="refresh_token", schema=SCHEMA)
    op.drop_index(op.f("ix_refresh_token_family_id"), table_name="refresh_token", schema=SCHEMA)
    op.drop_table("refresh_token", schema=SCHEMA)
    op.drop_table("login_failure", schema=SCHEMA)
    op.drop_index("ix_audit_event_principal_id_seq", table_name="audit_event", schema=SCHEMA)
    op.drop_index(op.f("ix_audit_event_occurred_at"), table_name="audit_event", schema=SCHEMA)
    op.drop_table("audit_event", schema=SCHEMA)
    op.drop_table("api_key", schema=SCHEMA)
