"""The SLA watch: warn before a deadline, record and escalate a breach, each once per target.

`check_slas` is the whole of the background job's work, given the time to judge by, so that tests
run it with a fixed `now`. Complaints whose clock is paused (waiting on the customer) are skipped:
their remaining time is frozen until they resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_feedback import events
from crm_feedback.complaints import escalation, views
from crm_feedback.complaints.history import add_history
from crm_feedback.complaints.models import Complaint
from crm_feedback.complaints.workflow import Status
from crm_feedback.config import Settings

ACTOR = "system:sla"
RUNNING = (Status.open, Status.acknowledged, Status.in_progress)


@dataclass
class SlaCheckResult:
    warnings: int = 0
    breaches: int = 0


async def _due_soon(session: AsyncSession, now: datetime, horizon: datetime, limit: int) -> list[Complaint]:
    """Complaints with something to do: a warning not yet sent or a breach not yet recorded.

    Only those, so that a batch never fills up with complaints already handled.
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
        .where(Complaint.status.in_([s.value for s in RUNNING]), or_(unanswered, unresolved))
        .order_by(Complaint.opened_at, Complaint.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def _check_target(
    session: AsyncSession, complaint: Complaint, target: str, now: datetime, lead: timedelta, settings: Settings
) -> tuple[int, int]:
    due: datetime | None = getattr(complaint, f"{target}_due_at")
    if due is None or getattr(complaint, f"{target}_breached_at") is not None:
        return 0, 0
    if now >= due:
        setattr(complaint, f"{target}_breached_at", now)
        previous = complaint.status
        escalated_to = escalation.escalate(complaint, now, settings)
        complaint.updated_at = now
        await session.flush()
        add_history(
            session,
            complaint,
            actor=ACTOR,
            action="escalate",
            at=now,
            from_status=previous,
            to_status=previous,
            note=f"{target} deadline {due.isoformat()} passed",
            changes={
                "target": target,
                "escalation_level": complaint.escalation_level,
                "escalated_to": str(escalated_to) if escalated_to else None,
            },
        )
        data = views.sla_data(complaint, target, due)
        await events.publish(session, events.COMPLAINT_SLA_BREACHED, complaint.id, data, complaint.version)
        await events.publish(
            session,
            events.COMPLAINT_STATUS_CHANGED,
            complaint.id,
            views.status_changed_data(complaint, previous, "escalate", now),
            complaint.version,
        )
        return 0, 1
    if now >= due - lead and getattr(complaint, f"{target}_warned_at") is None:
        setattr(complaint, f"{target}_warned_at", now)
        await session.flush()
        add_history(
            session, complaint, actor=ACTOR, action="sla_warning", at=now, note=f"{target} due {due.isoformat()}"
        )
        data = views.sla_data(complaint, target, due)
        await events.publish(session, events.COMPLAINT_SLA_WARNING, complaint.id, data, complaint.version)
        return 1, 0
    return 0, 0


async def check_slas(session: AsyncSession, now: datetime, settings: Settings, *, limit: int = 500) -> SlaCheckResult:
    """One round of the watch over at most `limit` complaints; the next round takes the rest."""
    lead = timedelta(minutes=settings.sla_warning_lead_minutes)
    result = SlaCheckResult()
    for complaint in await _due_soon(session, now, now + lead, limit):
        targets = ["resolution"] if complaint.first_responded_at is not None else ["first_response", "resolution"]
        for target in targets:
            warned, breached = await _check_target(session, complaint, target, now, lead, settings)
            result.warnings += warned
            result.breaches += breached
    return result
