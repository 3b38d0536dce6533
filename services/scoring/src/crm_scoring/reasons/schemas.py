"""Request and response shapes of `/customers/{customer_id}/churn-reasons`.

The reason codes are a closed list; the feedback service maps the choices of an exit survey's
reason question to the same codes (its README lists them too).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

ReasonCode = Literal[
    "price",
    "product_quality",
    "service",
    "delivery",
    "competitor",
    "complaint_unresolved",
    "no_longer_needed",
    "relocated",
    "other",
]
REASON_CODES: tuple[str, ...] = ReasonCode.__args__  # type: ignore[attr-defined]
Source = Literal["manual", "exit_survey"]


class ChurnReasonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ReasonCode
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = None


class ChurnReasonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    code: ReasonCode
    source: Source
    note: str | None
    response_id: uuid.UUID | None
    recorded_at: datetime
    recorded_by: str | None
