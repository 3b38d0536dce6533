"""The audit trail of calls through the gateway."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime
from crm_chassis.tables import SeqType
from crm_gateway.db import Base


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_principal_id_seq", "principal_id", "seq"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    principal_kind: Mapped[str | None] = mapped_column(String(16))
    principal_id: Mapped[str | None] = mapped_column(String(200))
    principal_name: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
    status: Mapped[int] = mapped_column(Integer)
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    # A partner key read personal data (a customer path): the reads regulators ask about.
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
