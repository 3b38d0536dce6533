from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from crm_chassis.dates import Instant
from crm_customer.customers.schemas import NeedLevel, PurchasingPower


class ProspectFilters(BaseModel):
    owner_id: uuid.UUID | None = Field(default=None, description="only this account manager's prospects")
    as_of: Instant | None = Field(default=None, description="rank as of this instant (default: now)")


class ProspectPriority(BaseModel):
    rank: int = Field(description="1 is the prospect to approach first")
    score: int = Field(description="0–100: need, purchasing power, decision authority and contact recency")
    reasons: list[str] = Field(description="each part of the score with its points")
    customer_id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    need_level: NeedLevel | None
    purchasing_power: PurchasingPower | None
    has_purchase_authority: bool | None
    last_contact_at: datetime | None
