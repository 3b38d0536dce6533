"""Every query on complaints and their history."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.identity import Principal
from crm_chassis.pagination import paginate
from crm_feedback import access
from crm_feedback.complaints.models import Complaint, ComplaintHistory
from crm_feedback.complaints.schemas import ComplaintFilters, ComplaintSort
from crm_feedback.complaints.workflow import OPEN_STATUSES

_SORTS = {
    ComplaintSort.opened_at: [(Complaint.opened_at, False), (Complaint.id, False)],
    ComplaintSort.opened_at_desc: [(Complaint.opened_at, True), (Complaint.id, True)],
}


async def get(session: AsyncSession, complaint_id: uuid.UUID) -> Complaint | None:
    return await session.get(Complaint, complaint_id)


async def history_for(
    session: AsyncSession, complaint_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ComplaintHistory]]:
    out: dict[uuid.UUID, list[ComplaintHistory]] = defaultdict(list)
    if not complaint_ids:
        return out
    rows = await session.scalars(
        select(ComplaintHistory).where(ComplaintHistory.complaint_id.in_(complaint_ids)).order_by(ComplaintHistory.seq)
    )
    for row in rows:
        out[row.complaint_id].append(row)
    return out


async def list_page(
    session: AsyncSession,
    filters: ComplaintFilters,
    sort: ComplaintSort,
    limit: int,
    cursor: str | None,
    principal: Principal,
) -> tuple[Sequence[Complaint], str | None]:
    stmt = select(Complaint).where(access.customer_clause(principal, Complaint.customer_id))
    for name in ("customer_id", "status", "severity", "category", "channel", "assignee_id", "escalated"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Complaint, name) == value)
    if filters.open is not None:
        in_open = Complaint.status.in_([s.value for s in OPEN_STATUSES])
        stmt = stmt.where(in_open if filters.open else ~in_open)
    if filters.opened_after:
        stmt = stmt.where(Complaint.opened_at >= filters.opened_after)
    if filters.opened_before:
        stmt = stmt.where(Complaint.opened_at < filters.opened_before)
    return await paginate(session, stmt, _SORTS[sort], sort, limit, cursor)
