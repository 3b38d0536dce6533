"""Scoring's own copy of the facts it scores on, fed by the customer and feedback services' events."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, Float, Index, Integer, Numeric, String, Text, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime
from crm_scoring.db import Base


class CustomerRef(Base):
    """What scoring knows of a customer, from the customer service's `customer.*` events."""

    __tablename__ = "customer_ref"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    lifecycle_stage: Mapped[str | None] = mapped_column(String(16))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    referred_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    merged_into: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # what the care list shows to make contact; blanked when the customer is erased
    phone: Mapped[str | None] = mapped_column(String(40))
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    best_contact_time: Mapped[str | None] = mapped_column(String(100))
    # influence beside referrals: the account manager's judgement and the industry standing
    influence_level: Mapped[str | None] = mapped_column(String(16))
    industry_standing: Mapped[str | None] = mapped_column(String(200))


class OrderFact(Base):
    """A purchase or a refund. `net_amount` of a purchase is its amount less the live refunds linked
    to it; a deleted order counts for nothing (a deleted refund refunds nothing)."""

    __tablename__ = "order_fact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    net_amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    margin: Mapped[Decimal | None] = mapped_column(Numeric(9, 4))
    quantity: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(32))
    refund_of: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    version: Mapped[int] = mapped_column(Integer, server_default="1")  # the order's, from its events
    deleted: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __table_args__ = (Index("ix_order_fact_customer_id_occurred_at", "customer_id", "occurred_at"),)


class InteractionFact(Base):
    __tablename__ = "interaction_fact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(16))
    direction: Mapped[str | None] = mapped_column(String(16))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    next_follow_up_date: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    deleted: Mapped[bool] = mapped_column(Boolean, server_default=false())
    summary: Mapped[str | None] = mapped_column(Text)  # the care list shows the last contact's
    follow_up_done: Mapped[bool] = mapped_column(Boolean, server_default=false())  # done: due no more

    __table_args__ = (Index("ix_interaction_fact_customer_id_occurred_at", "customer_id", "occurred_at"),)


class ContactFact(Base):
    """A person at an organisation customer with their roles (`contact.*` events): a senior leader
    of a key organisation is a key customer too (`key_customer_kind` `via_organization`)."""

    __tablename__ = "contact_fact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)  # the person, if a customer
    senior_leader: Mapped[bool] = mapped_column(Boolean, server_default=false())
    removed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    version: Mapped[int] = mapped_column(Integer)


class ComplaintFact(Base):
    __tablename__ = "complaint_fact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    category: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    retained: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SurveyResponseFact(Base):
    __tablename__ = "survey_response_fact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    survey_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    survey_kind: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    responded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    nps: Mapped[float | None] = mapped_column(Float)
    csat: Mapped[float | None] = mapped_column(Float)
    satisfaction_index: Mapped[float | None] = mapped_column(Float)


class ConcessionFact(Base):
    """A concession granted to a customer (`concession.granted`): its value is a cost to serve."""

    __tablename__ = "concession_fact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str | None] = mapped_column(String(32))
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(String(3))


class ServiceRecordFact(Base):
    """An after-sales service record (`service_record.recorded`): a cost to serve."""

    __tablename__ = "service_record_fact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    service_date: Mapped[date] = mapped_column(Date)
    type: Mapped[str | None] = mapped_column(String(32))
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class CampaignResponseFact(Base):
    """A member's response to a campaign (`campaign.response_recorded`): any but a delivery or an
    unsubscribe is a sign of engagement."""

    __tablename__ = "campaign_response_fact"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_campaign_response_fact_customer_id_occurred_at", "customer_id", "occurred_at"),)


class RescoreRequest(Base):
    """A customer whose facts changed since their score was computed; drained by a worker.

    `claimed_by` names the run or drain that took the request before loading the facts; a renewal
    clears it, so whoever claimed it drops it at the end only if nothing changed meanwhile."""

    __tablename__ = "rescore_request"

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class CustomerStats(Base):
    """A customer's purchase statistics (`stats_repository.ORDER_COLUMNS`) as of `as_of`, from the
    facts read at `read_at`, kept up to date by the customer's re-scoring, so that a live run reads
    one row per customer instead of every order.

    They stay right as time passes until the first `*_edge` is reached: the earliest purchase
    still inside the RFM window (`window_edge`), the last year (`year_edge`), the two years that
    the "prior year" counts from (`prior_edge`), and the earliest purchase dated after `as_of`
    (`future_edge`). `basis` names the settings they were computed with."""

    __tablename__ = "customer_stats"

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    basis: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)
    days: Mapped[float] = mapped_column(Float)
    first_day: Mapped[float | None] = mapped_column(Float)
    last_day: Mapped[float | None] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    first_amount: Mapped[float] = mapped_column(Float)
    profit: Mapped[float] = mapped_column(Float)
    window_orders: Mapped[float] = mapped_column(Float)
    window_spend: Mapped[float] = mapped_column(Float)
    annual_profit: Mapped[float] = mapped_column(Float)
    prior_days: Mapped[float] = mapped_column(Float)
    window_edge: Mapped[datetime | None] = mapped_column(UTCDateTime)
    year_edge: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prior_edge: Mapped[datetime | None] = mapped_column(UTCDateTime)
    future_edge: Mapped[datetime | None] = mapped_column(UTCDateTime)
