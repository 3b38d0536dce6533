"""How a complaint stands against its deadlines, derived from its timestamps."""

from __future__ import annotations

from datetime import datetime

from crm_feedback.complaints.models import Complaint
from crm_feedback.db import Session
from crm_feedback.sla import repository as sla_repo
from crm_feedback.sla import service as sla_service
from crm_feedback.sla.clock import Interval


def pause_intervals(complaint: Complaint) -> list[Interval]:
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in complaint.pauses or []]


def end_pause(complaint: Complaint, now: datetime) -> None:
    if complaint.paused_since is not None:
        complaint.pauses = [*(complaint.pauses or []), [complaint.paused_since.isoformat(), now.isoformat()]]
        complaint.paused_since = None


async def refresh_deadlines(session: Session, complaint: Complaint) -> None:
    """Recompute policy deadlines (after a pause ends, or severity/category change)."""
    if complaint.deadline_source != "policy" or complaint.sla_policy_id is None:
        return
    policy = await sla_repo.get(session, complaint.sla_policy_id, include_deleted=True)
    if policy is None:
        return
    first, resolution, warnings = sla_service.deadlines(policy, complaint.opened_at, pause_intervals(complaint))
    complaint.first_response_due_at, complaint.resolution_due_at = first, resolution
    complaint.sla_warnings = warnings


async def apply_policy(session: Session, complaint: Complaint) -> None:
    """Attach the policy matching the complaint's severity and category, and take its deadlines."""
    policy = await sla_repo.matching(session, complaint.severity, complaint.category)
    if policy is None:
        complaint.sla_policy_id, complaint.deadline_source = None, "none"
        complaint.first_response_due_at = complaint.resolution_due_at = None
        complaint.sla_warnings = []
        return
    complaint.sla_policy_id, complaint.deadline_source = policy.id, "policy"
    await refresh_deadlines(session, complaint)


def first_response_breached(complaint: Complaint, now: datetime) -> bool:
    due = complaint.first_response_due_at
    return due is not None and (complaint.first_responded_at or now) > due


def resolution_breached(complaint: Complaint, now: datetime) -> bool:
    due = complaint.resolution_due_at
    if due is None:
        return False
    if complaint.resolution_breached_at is not None:
        return True
    # While paused the remaining time is frozen: what counts is when the clock stopped.
    return (complaint.resolved_at or complaint.paused_since or now) > due
