from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime
from crm_feedback.db import Base


class CustomerRef(Base):
    """What feedback knows of a customer, from the customer service's `customer.*` events."""

    __tablename__ = "customer_ref"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    lifecycle_stage: Mapped[str | None] = mapped_column(String(16))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    # The survivor this customer was merged into, until the merge is undone: no new records for it.
    merged_into: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MergedRecord(Base):
    """A record of ours that `customer.merged` moved from the duplicate to the survivor.

    Kept until the merge is undone, so that `customer.unmerged` moves back exactly these records and
    leaves on the survivor what was filed there after the merge.
    """

    __tablename__ = "merged_record"

    survivor_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    duplicate_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
