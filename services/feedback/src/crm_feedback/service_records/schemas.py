from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm_chassis.dates import CalendarDate, OccurredOn

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]


class ServiceType(StrEnum):
    service_support = "service_support"
    technical_support = "technical_support"
    repair = "repair"
    feedback_collection = "feedback_collection"


ServiceDate = OccurredOn


class ServiceRecordFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ServiceType | None = None
    service_date: ServiceDate | None = None
    handler: Name | None = None
    handler_id: uuid.UUID | None = None
    description: Text | None = None
    outcome: Text | None = None
    complaint_id: uuid.UUID | None = None


class ServiceRecordCreate(ServiceRecordFields):
    customer_id: uuid.UUID
    type: ServiceType
    service_date: ServiceDate
    handler: Name


class ServiceRecordUpdate(ServiceRecordFields):
    """Only the fields sent change."""


class ServiceRecordRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    type: ServiceType
    service_date: date
    handler: str
    handler_id: uuid.UUID | None
    description: str | None
    outcome: str | None
    complaint_id: uuid.UUID | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class ServiceRecordFilters(BaseModel):
    customer_id: uuid.UUID | None = None
    type: ServiceType | None = None
    handler_id: uuid.UUID | None = None
    service_date_after: CalendarDate | None = Field(None, description="served on this day or later")
    service_date_before: CalendarDate | None = Field(None, description="served before this day")
