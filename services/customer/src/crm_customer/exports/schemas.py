"""Shapes of `/exports`: `{kind, filters}` in, a job `{id, status, progress: {done, total}, ...}` out."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_chassis.context import public_link
from crm_customer.customers.schemas import CustomerFilters
from crm_customer.exports.models import ExportJob
from crm_customer.imports.schemas import JobStatus, Progress
from crm_customer.interactions.schemas import InteractionFilters
from crm_customer.job_schemas import JobReadEnd
from crm_customer.orders.schemas import OrderFilters


class ExportKind(StrEnum):
    customers = "customers"
    orders = "orders"
    interactions = "interactions"


FILTERS: dict[ExportKind, type[BaseModel]] = {
    ExportKind.customers: CustomerFilters,
    ExportKind.orders: OrderFilters,
    ExportKind.interactions: InteractionFilters,
}


class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ExportKind
    filters: dict[str, Any] = Field(
        default_factory=dict, description="the query parameters of the kind's list endpoint, e.g. {'tag': 'vip'}"
    )

    @model_validator(mode="after")
    def _known_filters(self) -> ExportCreate:
        model = FILTERS[self.kind]
        unknown = sorted(set(self.filters) - set(model.model_fields))
        if unknown:
            known = ", ".join(model.model_fields)
            raise ValueError(f"unknown filters for {self.kind.value}: {', '.join(unknown)} (known: {known})")
        self.filters = model.model_validate(self.filters).model_dump(mode="json", exclude_none=True)
        return self


class ExportJobFields(BaseModel):
    """`ExportJobRead`'s own fields, which the public shape lists before `JobReadEnd`'s."""

    id: uuid.UUID
    kind: ExportKind
    status: JobStatus
    filters: dict[str, Any]
    progress: Progress
    download: str | None = Field(description="where to fetch the CSV once the export has succeeded")


class ExportJobRead(JobReadEnd, ExportJobFields):
    @classmethod
    def of(cls, job: ExportJob) -> ExportJobRead:
        status = JobStatus(job.status)
        return cls(
            id=job.id,
            kind=ExportKind(job.kind),
            status=status,
            filters=job.filters,
            progress=Progress(done=job.done, total=job.total),
            download=public_link(f"/exports/{job.id}/download") if status == JobStatus.succeeded else None,
            **JobReadEnd.values_of(job),
        )
