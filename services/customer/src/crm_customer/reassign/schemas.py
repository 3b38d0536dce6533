from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from crm_customer.customers.schemas import AcquisitionChannel, Kind, LifecycleStage
from crm_customer.imports.schemas import JobStatus, Progress
from crm_customer.job_schemas import JobReadEnd
from crm_customer.reassign.models import ReassignmentJob


class ReassignFilter(BaseModel):
    """Which of the owner's customers to hand over (the list filters of `GET /customers`); all by default."""

    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    kind: Kind | None = None
    lifecycle_stage: LifecycleStage | None = None
    acquisition_channel: AcquisitionChannel | None = None
    tag: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    key: bool | None = None
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None


class ReassignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_owner_id: uuid.UUID
    to_owner_id: uuid.UUID
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="kept in each customer's owner history"
    )
    filter: ReassignFilter | None = None


class ReassignProgress(Progress):
    moved: int = Field(description="customers handed over so far")
    skipped: int = Field(description="customers whose owner changed while the job ran: left as they were")


class ReassignJobFields(BaseModel):
    """`ReassignJobRead`'s own fields, which the public shape lists before `JobReadEnd`'s."""

    id: uuid.UUID
    status: JobStatus
    from_owner_id: uuid.UUID
    to_owner_id: uuid.UUID
    reason: str
    filter: dict[str, Any]
    progress: ReassignProgress


class ReassignJobRead(JobReadEnd, ReassignJobFields):
    @classmethod
    def of(cls, job: ReassignmentJob) -> ReassignJobRead:
        return cls(
            id=job.id,
            status=JobStatus(job.status),
            from_owner_id=job.from_owner_id,
            to_owner_id=job.to_owner_id,
            reason=job.reason,
            filter=job.filter,
            progress=ReassignProgress(
                done=job.moved + job.skipped, total=job.total, moved=job.moved, skipped=job.skipped
            ),
            **JobReadEnd.values_of(job),
        )


class OwnedCount(BaseModel):
    owner_id: uuid.UUID
    customers: int = Field(description="live customers this user owns")
