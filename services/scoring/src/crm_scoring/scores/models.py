"""One row per customer: the numbers of the score card and the inputs that produced them.

Explanations are written when a card is read, from these inputs and the run's model, so a full
run stores numbers only.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Float, Integer, Numeric, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime
from crm_scoring.db import Base

Money = Numeric(18, 2)


class CustomerScore(Base):
    __tablename__ = "customer_score"

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # inputs
    purchase_days: Mapped[int] = mapped_column(Integer)
    first_purchase_date: Mapped[date | None] = mapped_column(Date)
    last_purchase_date: Mapped[date | None] = mapped_column(Date)
    total_spend: Mapped[Decimal] = mapped_column(Money)
    avg_spend: Mapped[Decimal | None] = mapped_column(Money)
    repeat_avg_spend: Mapped[Decimal | None] = mapped_column(Money)
    cycle_days: Mapped[float | None] = mapped_column(Float)
    annual_profit: Mapped[Decimal] = mapped_column(Money)
    margin_rate: Mapped[float | None] = mapped_column(Float)
    recency_days: Mapped[int | None] = mapped_column(Integer)
    window_orders: Mapped[int] = mapped_column(Integer)
    window_spend: Mapped[Decimal] = mapped_column(Money)
    referrals: Mapped[int] = mapped_column(Integer)
    open_complaints: Mapped[int] = mapped_column(Integer)
    sla_breaches: Mapped[int] = mapped_column(Integer)
    satisfaction: Mapped[float | None] = mapped_column(Float)
    nps: Mapped[float | None] = mapped_column(Float)
    csat: Mapped[float | None] = mapped_column(Float)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # results
    rfm_r: Mapped[int | None] = mapped_column(Integer)
    rfm_f: Mapped[int | None] = mapped_column(Integer)
    rfm_m: Mapped[int | None] = mapped_column(Integer)
    rfm_segment: Mapped[str | None] = mapped_column(String(32))
    clv_simple: Mapped[Decimal | None] = mapped_column(Money)
    clv_discounted: Mapped[Decimal | None] = mapped_column(Money)
    clv_probabilistic: Mapped[Decimal | None] = mapped_column(Money)
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases: Mapped[float | None] = mapped_column(Float)
    abc_value: Mapped[float] = mapped_column(Float)
    abc_class: Mapped[str] = mapped_column(String(1))
    key_customer_kind: Mapped[str | None] = mapped_column(String(16))
    value_segment: Mapped[str | None] = mapped_column(String(32))
    segment_rule: Mapped[str | None] = mapped_column(String(32))
    loyalty_stage: Mapped[str] = mapped_column(String(16))
    relationship_level: Mapped[str | None] = mapped_column(String(16))
    churn_risk: Mapped[float | None] = mapped_column(Float)
    churn_reasons: Mapped[int] = mapped_column(Integer)
    lifecycle_suggestion: Mapped[str | None] = mapped_column(String(16))
    care_status: Mapped[str | None] = mapped_column(String(16))
    care_due_date: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
