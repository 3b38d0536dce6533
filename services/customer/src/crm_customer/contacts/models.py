from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType, UTCDateTime, utcnow
from crm_customer.db import Base


class Contact(Base):
    """A person at an organisation customer, with their roles there.

    `person_id` optionally points at an individual customer, so one person can be a contact of
    several organisations and a customer in their own right.
    """

    __tablename__ = "contact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"))
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("customer.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    roles: Mapped[list[str]] = mapped_column(JsonType)
    # Kept beside `roles` so "senior leaders of key organisations" is a plain indexed query.
    is_senior_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_contact_organization_id_created_at", "organization_id", "created_at"),)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper
