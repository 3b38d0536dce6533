from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType, UTCDateTime, utcnow
from crm_customer.db import Base


class Customer(Base):
    """A person or organisation in the archive (DOMAIN.md §1)."""

    __tablename__ = "customer"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    other_contacts: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    address: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    notes: Mapped[str | None] = mapped_column(Text)

    # individuals
    gender: Mapped[str | None] = mapped_column(String(16))
    birth_date: Mapped[date | None] = mapped_column(Date)
    age_band: Mapped[str | None] = mapped_column(String(16))
    education: Mapped[str | None] = mapped_column(String(16))
    occupation: Mapped[str | None] = mapped_column(String(100))
    family_status: Mapped[str | None] = mapped_column(String(32))
    hobbies: Mapped[list[str]] = mapped_column(JsonType, default=list)
    personality_notes: Mapped[str | None] = mapped_column(Text)
    taboos: Mapped[list[str]] = mapped_column(JsonType, default=list)
    preferences: Mapped[list[str]] = mapped_column(JsonType, default=list)
    best_contact_time: Mapped[str | None] = mapped_column(String(100))
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    influence_level: Mapped[str | None] = mapped_column(String(16))
    industry_standing: Mapped[str | None] = mapped_column(String(200))
    purchasing_power: Mapped[str | None] = mapped_column(String(16))
    has_purchase_authority: Mapped[bool | None] = mapped_column(Boolean)
    need_level: Mapped[str | None] = mapped_column(String(16))  # how much they need the product

    # organisations
    industry: Mapped[str | None] = mapped_column(String(100))
    company_size: Mapped[str | None] = mapped_column(String(16))
    business_lines: Mapped[list[str]] = mapped_column(JsonType, default=list)
    management: Mapped[str | None] = mapped_column(Text)
    purchasing_activities: Mapped[str | None] = mapped_column(Text)

    # relationship
    acquisition_channel: Mapped[str | None] = mapped_column(String(32))
    referred_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("customer.id"), index=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(16), default="prospect")
    # Why the stage is what it is: the rule that moved it last, or "set by hand" with who did.
    lifecycle_cause: Mapped[str | None] = mapped_column(String(200))
    lifecycle_set_by: Mapped[str | None] = mapped_column(String(200))
    lifecycle_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    loyalty_stage: Mapped[str | None] = mapped_column(String(16))
    relationship_level: Mapped[str | None] = mapped_column(String(16))
    loyalty_kind: Mapped[str | None] = mapped_column(String(16))
    membership_tier: Mapped[str | None] = mapped_column(String(50))
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    is_key: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    key_reason: Mapped[str | None] = mapped_column(String(200))

    # What scoring suggests (its `score.suggestions_changed` events), beside what a person sets.
    suggested_value_segment: Mapped[str | None] = mapped_column(String(32))
    suggested_abc_class: Mapped[str | None] = mapped_column(String(1))
    suggested_churn_risk: Mapped[float | None] = mapped_column(Float)
    suggested_lifecycle_stage: Mapped[str | None] = mapped_column(String(16))
    suggested_loyalty_stage: Mapped[str | None] = mapped_column(String(16))
    suggested_relationship_level: Mapped[str | None] = mapped_column(String(16))
    suggested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the score card's version the suggestions come from: an older event changes nothing
    suggestions_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # For `q`, written with every change of the name or contacts (customers/search.py): folded
    # name (simplified characters), email, phone digits, other contacts; the name's pinyin forms;
    # the Chinese characters as hex codes, for the index.
    search_text: Mapped[str] = mapped_column(Text, default="")
    search_pinyin: Mapped[str] = mapped_column(Text, default="")
    search_han: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when this record was merged into another: reads of it are redirected there.
    merged_into: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Set when personal data was erased: the row stays, anonymised, for the aggregates.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_customer_created_at_id", "created_at", "id"),
        Index("ix_customer_name_id", "name", "id"),
        Index("ix_customer_lifecycle_stage", "lifecycle_stage"),
        # Substring search on PostgreSQL (pg_trgm); SQLite scans, as it has no such index.
        Index(
            "ix_customer_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        Index(
            "ix_customer_search_pinyin_trgm",
            "search_pinyin",
            postgresql_using="gin",
            postgresql_ops={"search_pinyin": "gin_trgm_ops"},
        ),
        Index(
            "ix_customer_search_han_trgm",
            "search_han",
            postgresql_using="gin",
            postgresql_ops={"search_han": "gin_trgm_ops"},
        ),
    )
    # Optimistic locking: an UPDATE names the version it read, so a concurrent change is refused.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper


class CustomerChange(Base):
    """Audit history: one row per changed field (who, when, old, new)."""

    __tablename__ = "customer_change"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"))
    action: Mapped[str] = mapped_column(String(16))  # created | updated | deleted | merged | unmerged
    field: Mapped[str | None] = mapped_column(String(64))
    old: Mapped[Any] = mapped_column(JsonType, nullable=True)
    new: Mapped[Any] = mapped_column(JsonType, nullable=True)
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # for a change a rule made rather than a person: which rule, and what made it fire
    cause: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_customer_change_customer_id_changed_at", "customer_id", "changed_at"),)


class OwnerChange(Base):
    """Account manager reassignments: who, when, from, to, why."""

    __tablename__ = "owner_change"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"), index=True)
    from_owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    to_owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reason: Mapped[str | None] = mapped_column(String(500))
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
