"""Every query on complaints and their history."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, or_, select, update

from crm_chassis.identity import Principal
from crm_chassis.pagination import Page, paginate
from crm_feedback.complaints.models import Complaint, ComplaintHistory
from crm_feedback.complaints.schemas import ComplaintFilters, ComplaintSort
from crm_feedback.complaints.workflow import OPEN_STATUSES, RUNNING_STATUSES
from crm_feedback.db import Session, infra
from crm_feedback.readmodel import repository as customer_repo

_SORTS = {
    ComplaintSort.opened_at: [(Complaint.opened_at, False), (Complaint.id, False)],
    ComplaintSort.opened_at_desc: [(Complaint.opened_at, True), (Complaint.id, True)],
}


async def get(session: Session, complaint_id: uuid.UUID) -> Complaint | None:
    return await session.get(Complaint, complaint_id)


async def history_for(session: Session, complaint_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ComplaintHistory]]:
    out: dict[uuid.UUID, list[ComplaintHistory]] = defaultdict(list)
    if not complaint_ids:
        return out
    rows = await session.scalars(
        select(ComplaintHistory).where(ComplaintHistory.complaint_id.in_(complaint_ids)).order_by(ComplaintHistory.seq)
    )
    for row in rows:
        out[row.complaint_id].append(row)
    return out


def add_history(
    session: Session,
    complaint: Complaint,
    *,
    actor: str,
    action: str,
    at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """One line of the complaint's history: who did what, when, and why."""
    session.add(
        ComplaintHistory(
            complaint_id=complaint.id,
            at=at,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            note=note,
            changes=changes,
        )
    )


async def list_page(
    session: Session,
    filters: ComplaintFilters,
    sort: ComplaintSort,
    limit: int,
    cursor: str | None,
    principal: Principal,
) -> Page[Complaint]:
    stmt = select(Complaint).where(customer_repo.visible_to(principal, Complaint.customer_id))
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


async def due_for_sla_check(
    session: Session, *, now: datetime, horizon: datetime, limit: int, parked_as: str
) -> list[Complaint]:
    """Running complaints with something to do: a warning not yet sent or a breach not yet recorded.

    Only those, so that a batch never fills up with complaints already handled; locked, and those
    another watcher holds skipped; those parked in dead_letter as consumer `parked_as` left out.
    """
    c = Complaint
    unanswered = (
        c.first_responded_at.is_(None)
        & c.first_response_breached_at.is_(None)
        & (c.first_response_due_at <= horizon)
        & (c.first_response_warned_at.is_(None) | (c.first_response_due_at <= now))
    )
    unresolved = (
        c.resolution_breached_at.is_(None)
        & (c.resolution_due_at <= horizon)
        & (c.resolution_warned_at.is_(None) | (c.resolution_due_at <= now))
    )
    stmt = (
        select(Complaint)
        .where(Complaint.status.in_([s.value for s in RUNNING_STATUSES]), or_(unanswered, unresolved))
        .where(~exists().where(infra.dead_letter.c.consumer == parked_as, infra.dead_letter.c.event_id == c.id))
        .order_by(Complaint.opened_at, Complaint.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def erase_customer(session: Session, customer_id: uuid.UUID, *, placeholder: str) -> None:
    """Blank what was written about the customer in their complaints and histories (a new version each)."""
    complaint_ids = select(Complaint.id).where(Complaint.customer_id == customer_id).scalar_subquery()
    await session.execute(
        update(Complaint)
        .where(Complaint.customer_id == customer_id)
        .values(description=placeholder, resolution=None, follow_up=None, version=Complaint.version + 1)
    )
    await session.execute(
        update(ComplaintHistory).where(ComplaintHistory.complaint_id.in_(complaint_ids)).values(note=None, changes=None)
    )
