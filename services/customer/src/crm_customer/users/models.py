from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime
from crm_customer.db import Base


class UserRef(Base):
    """A user account as the gateway's `user.*` events describe it (no email, no credentials)."""

    __tablename__ = "user_ref"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # The team, named by its manager: an agent's manager, a manager's own id.
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    active: Mapped[bool] = mapped_column(Boolean)
    # The account's version in the gateway: an older or repeated event changes nothing.
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
