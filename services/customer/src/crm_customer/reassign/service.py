"""Hand-over rules: who may hand customers over, to whom, and how the job moves them.

The job runs in the service process after the request is answered, in chunks of `CHUNK`
customers, each chunk one transaction with its progress. Each customer is reassigned exactly as
`POST /customers/{id}/owner` would (audit entry, owner history with the reason,
`customer.updated` and `customer.owner_changed`). A customer whose owner changed since the job
started is skipped. A job that stops (an error, a restart) leaves the chunks it committed done;
starting it again moves the rest, since only the old owner's customers match.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from crm_chassis.db import utcnow
from crm_chassis.errors import Forbidden, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import service as customer_service
from crm_customer.customers.schemas import CustomerFilters, CustomerUpdate
from crm_customer.db import Session, Sessionmaker
from crm_customer.imports.schemas import JobStatus
from crm_customer.reassign import repository as job_repo
from crm_customer.reassign.models import ReassignmentJob
from crm_customer.reassign.schemas import ReassignCreate
from crm_customer.users import service as user_service

CHUNK = 200
logger = logging.getLogger("crm.reassign")


def _filters(job: ReassignmentJob) -> CustomerFilters:
    return CustomerFilters(**job.filter, owner_id=job.from_owner_id)


async def start(session: Session, *, data: ReassignCreate, principal: Principal) -> ReassignmentJob:
    """Check the request and record the job (queued); the caller runs `HandOver(...).run()` after commit."""
    if principal.role not in ("admin", "manager", "service"):
        raise Forbidden("only managers and admins hand customers over", code="reassign_not_allowed")
    if data.from_owner_id == data.to_owner_id:
        raise Unprocessable.field("to_owner_id", "same_owner", "must differ from from_owner_id")
    await user_service.check_owner(session, principal, data.to_owner_id)
    filters = data.filter.model_dump(mode="json", exclude_none=True) if data.filter else {}
    now = utcnow()
    job = ReassignmentJob(
        id=uuid.uuid4(),
        from_owner_id=data.from_owner_id,
        to_owner_id=data.to_owner_id,
        reason=data.reason,
        filter=filters,
        status=JobStatus.queued.value,
        moved=0,
        skipped=0,
        created_by=principal.subject,
        created_at=now,
        heartbeat_at=now,
    )
    job.total = await customer_repo.count_matching(session, _filters(job), principal)
    return await job_repo.add(session, job)


async def get(session: Session, *, job_id: uuid.UUID, principal: Principal) -> ReassignmentJob:
    job = await job_repo.get(session, job_id)
    if job is None or not (principal.is_admin or job.created_by == principal.subject):
        raise NotFound(f"hand-over {job_id} does not exist", code="reassignment_not_found")
    return job


async def owned_count(session: Session, owner_id: uuid.UUID, principal: Principal) -> int:
    return await customer_repo.count_matching(session, CustomerFilters(owner_id=owner_id), principal)


@dataclass
class HandOver:
    job_id: uuid.UUID
    principal: Principal  # the job sees and moves what its creator may, as their own calls would
    sessionmaker: Sessionmaker
    phone_region: str

    async def run(self) -> None:
        try:
            async with self.sessionmaker.begin() as session:
                job = await job_repo.get(session, self.job_id)
                assert job is not None
                await job_repo.set_state(session, job.id, status=JobStatus.running.value, started_at=utcnow())
                filters, to_owner, reason = _filters(job), job.to_owner_id, job.reason
            after: uuid.UUID | None = None
            while True:
                async with self.sessionmaker.begin() as session:
                    ids = await customer_repo.ids_after(session, filters, self.principal, after, CHUNK)
                    if not ids:
                        break
                    moved, skipped = await self._chunk(session, ids, filters.owner_id, to_owner, reason)
                    job = await job_repo.get(session, self.job_id)
                    assert job is not None
                    await job_repo.set_state(session, job.id, moved=job.moved + moved, skipped=job.skipped + skipped)
                after = ids[-1]
            async with self.sessionmaker.begin() as session:
                await job_repo.set_state(session, self.job_id, status=JobStatus.succeeded.value, finished_at=utcnow())
        except Exception as exc:
            logger.exception("hand-over failed", extra={"job_id": str(self.job_id)})
            summary = str(exc) if isinstance(exc, Unprocessable) else "the hand-over stopped on an unexpected error"
            async with self.sessionmaker.begin() as session:
                await job_repo.set_state(
                    session,
                    self.job_id,
                    status=JobStatus.failed.value,
                    finished_at=utcnow(),
                    error_summary=f"{summary}; start it again to move the rest",
                )

    async def _chunk(
        self,
        session: Session,
        ids: list[uuid.UUID],
        from_owner: uuid.UUID | None,
        to_owner: uuid.UUID,
        reason: str,
    ) -> tuple[int, int]:
        await customer_repo.lock(session, ids)
        moved = skipped = 0
        for customer_id in ids:
            customer = await customer_repo.get(session, customer_id)
            if customer is None or customer.owner_id != from_owner:
                skipped += 1
                continue
            await customer_service.update(
                session,
                customer=customer,
                data=CustomerUpdate(owner_id=to_owner),
                phone_region=self.phone_region,
                principal=self.principal,
                owner_reason=reason,
            )
            moved += 1
        return moved, skipped
