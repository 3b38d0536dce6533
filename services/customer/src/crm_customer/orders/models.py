from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType, UTCDateTime, utcnow
from crm_customer.db import Base


class Order(Base):
    """A purchase, or a refund: a negative order that points at the purchase it refunds."""

    __tablename__ = "sales_order"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"))
    source: Mapped[str] = mapped_column(String(50))
    external_ref: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    margin: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    quantity: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(50))
    location: Mapped[str | None] = mapped_column(String(100))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    refund_of: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("sales_order.id"), index=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    # The campaign the partner says brought the purchase (checked to exist; no foreign key, see migration 0020).
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        # A partner may post the same order twice: its (source, external_ref) finds the first one.
        UniqueConstraint("source", "external_ref"),
        Index("ix_sales_order_customer_id_occurred_at", "customer_id", "occurred_at"),
        Index("ix_sales_order_occurred_at_id", "occurred_at", "id"),
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper
