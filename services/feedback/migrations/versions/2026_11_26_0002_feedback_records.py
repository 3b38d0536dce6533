"""complaints with history, SLA policies, suggestions, service records and surveys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "feedback"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "complaint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_to", sa.Uuid(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_policy_id", sa.Uuid(), nullable=True),
        sa.Column("deadline_source", sa.String(length=8), nullable=False),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pauses", JSON, nullable=False),
        sa.Column("first_response_warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("follow_up", JSON, nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_complaint_assignee_id"), "complaint", ["assignee_id"], unique=False, schema=SCHEMA)
    op.create_index(op.f("ix_complaint_customer_id"), "complaint", ["customer_id"], unique=False, schema=SCHEMA)
    op.create_index("ix_complaint_opened_at_id", "complaint", ["opened_at", "id"], unique=False, schema=SCHEMA)
    op.create_index("ix_complaint_status", "complaint", ["status"], unique=False, schema=SCHEMA)

    op.create_table(
        "service_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("handler", sa.String(length=200), nullable=False),
        sa.Column("handler_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("complaint_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_record")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_service_record_customer_id"), "service_record", ["customer_id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        "ix_service_record_service_date_id", "service_record", ["service_date", "id"], unique=False, schema=SCHEMA
    )

    op.create_table(
        "sla_policy",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("first_response_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.Column("calendar", JSON, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policy")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_sla_policy_severity"), "sla_policy", ["severity"], unique=False, schema=SCHEMA)

    op.create_table(
        "suggestion",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion")),
        schema=SCHEMA,
    )
    op.create_index("ix_suggestion_created_at_id", "suggestion", ["created_at", "id"], unique=False, schema=SCHEMA)
    op.create_index(op.f("ix_suggestion_customer_id"), "suggestion", ["customer_id"], unique=False, schema=SCHEMA)

    op.create_table(
        "survey",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey")),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_survey_kind"), "survey", ["kind"], unique=False, schema=SCHEMA)

    op.create_table(
        "complaint_history",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changes", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["feedback.complaint.id"], name=op.f("fk_complaint_history_complaint_id_complaint")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_complaint_history")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_complaint_history_complaint_id"), "complaint_history", ["complaint_id"], unique=False, schema=SCHEMA
    )

    op.create_table(
        "survey_invitation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("complaint_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["feedback.survey.id"], name=op.f("fk_survey_invitation_survey_id_survey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_survey_invitation_token_hash")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_survey_invitation_complaint_id"), "survey_invitation", ["complaint_id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        op.f("ix_survey_invitation_customer_id"), "survey_invitation", ["customer_id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        "ix_survey_invitation_survey_id_created_at_id",
        "survey_invitation",
        ["survey_id", "created_at", "id"],
        unique=False,
        schema=SCHEMA,
    )

    op.create_table(
        "survey_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("questions", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["feedback.survey.id"], name=op.f("fk_survey_version_survey_id_survey")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_version")),
        sa.UniqueConstraint("survey_id", "number", name=op.f("uq_survey_version_survey_id_number")),
        schema=SCHEMA,
    )

    op.create_table(
        "survey_response",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("survey_id", sa.Uuid(), nullable=False),
        sa.Column("survey_version", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("subject", JSON, nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("answers", JSON, nullable=False),
        sa.Column("nps_score", sa.Integer(), nullable=True),
        sa.Column("csat_score", sa.Float(), nullable=True),
        sa.Column("satisfaction_index", sa.Float(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["feedback.survey_invitation.id"],
            name=op.f("fk_survey_response_invitation_id_survey_invitation"),
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["feedback.survey.id"], name=op.f("fk_survey_response_survey_id_survey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_survey_response_invitation_id")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_survey_response_customer_id"), "survey_response", ["customer_id"], unique=False, schema=SCHEMA
    )
    op.create_index("ix_survey_response_responded_at", "survey_response", ["responded_at"], unique=False, schema=SCHEMA)
    op.create_index(
        "ix_survey_response_survey_id_responded_at_id",
        "survey_response",
        ["survey_id", "responded_at", "id"],
        unique=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("survey_response", schema=SCHEMA)
    op.drop_table("survey_version", schema=SCHEMA)
    op.drop_table("survey_invitation", schema=SCHEMA)
    op.drop_table("complaint_history", schema=SCHEMA)
    op.drop_table("survey", schema=SCHEMA)
    op.drop_table("suggestion", schema=SCHEMA)
    op.drop_table("sla_policy", schema=SCHEMA)
    op.drop_table("service_record", schema=SCHEMA)
    op.drop_table("complaint", schema=SCHEMA)
