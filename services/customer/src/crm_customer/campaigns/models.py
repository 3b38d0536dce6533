"""Campaigns, the members a start fixed, their responses, and the job that fixes the members."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType, UTCDateTime, utcnow
from crm_customer.db import Base
from crm_customer.job_models import JobColumns


class Campaign(Base):
    __tablename__ = "campaign"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str | None] = mapped_column(String(1000))
    channel: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    budget: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    actual_cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    status: Mapped[str] = mapped_column(String(16))
    target: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    excluded_without_consent: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_campaign_created_at_id", "created_at", "id"),)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper


class CampaignMember(Base):
    """A customer the start put in the campaign (with marketing consent at that moment)."""

    __tablename__ = "campaign_member"

    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("campaign.id"), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignResponse(Base):
    __tablename__ = "campaign_response"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("campaign.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customer.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_campaign_response_campaign_id_occurred_at_id", "campaign_id", "occurred_at", "id"),)


class CampaignSnapshot(JobColumns, Base):
    """The job a start runs: the target's customers become members, those without consent are counted."""

    __tablename__ = "campaign_snapshot"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("campaign.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer, default=0)  # customers matching the target at the start
    added: Mapped[int] = mapped_column(Integer, default=0)
    excluded: Mapped[int] = mapped_column(Integer, default=0)  # without marketing consent

    __table_args__ = (Index("ix_campaign_snapshot_status_heartbeat_at", "status", "heartbeat_at"),)
