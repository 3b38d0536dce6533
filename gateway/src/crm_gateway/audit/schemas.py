"""Bodies of `/api/v1/audit`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from crm_chassis.pagination import total_field


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    principal_kind: str | None
    principal_id: str | None
    principal_name: str | None
    role: str | None
    method: str
    path: str
    status: int
    client_address: str | None
    request_id: str | None
    personal_data: bool


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_cursor: str | None
    total: int | None = total_field()
