from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType, UTCDateTime, utcnow
from crm_customer.db import Base


class PointsEntry(Base):
    """One line of a customer's points ledger; the balance is the sum of `points`, never negative."""

    __tablename__ = "points_entry"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(16))  # earn | redeem | expire | adjust
    points: Mapped[int] = mapped_column(Integer)  # signed: earn > 0, redeem/expire < 0
    balance_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_points_entry_customer_id_created_at", "customer_id", "created_at"),)


class Concession(Base):
    """A discount or favour granted, with why, who approved it and what the customer gave back."""

    __tablename__ = "concession"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(32))
    reason_note: Mapped[str | None] = mapped_column(Text)
    reciprocal: Mapped[str | None] = mapped_column(Text)
    approver_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The care budget line a concession with a value is charged to: the customer's ABC class when it
    # was recorded (`unclassified` before scoring gave one) and the month of `granted_at`.
    care_class: Mapped[str | None] = mapped_column(String(12))
    care_period: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM in the business time zone
    overspend: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # the part beyond what remained
    overspend_approved_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_concession_care_period_care_class", "care_period", "care_class"),)


class Tier(Base):
    """A membership tier: reached at `threshold` points, with what it gives (material or not)."""

    __tablename__ = "loyalty_tier"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    threshold: Mapped[int] = mapped_column(Integer, unique=True)
    benefits: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper


class ManualTier(Base):
    """A tier set by hand for one customer: it holds whatever the points say, until it is cleared."""

    __tablename__ = "customer_manual_tier"

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"), primary_key=True)
    tier_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("loyalty_tier.id"), index=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CareBudget(Base):
    """What may be spent on the care (gifts, concessions) of one ABC class in one calendar month."""

    __tablename__ = "care_budget"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    care_class: Mapped[str] = mapped_column(String(12))  # A | B | C | unclassified
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (UniqueConstraint("care_class", "period"),)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper
