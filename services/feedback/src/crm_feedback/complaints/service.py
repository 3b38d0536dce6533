"""Rules of complaint handling: creation, edits, the workflow, follow-up; history and events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page, PageParams
from crm_chassis.patching import changes_of
from crm_feedback import events
from crm_feedback.common.customers import ensure_customer
from crm_feedback.complaints import escalation, views
from crm_feedback.complaints import repository as complaint_repo
from crm_feedback.complaints.models import Complaint, ComplaintHistory
from crm_feedback.complaints.schemas import (
    ComplaintCreate,
    ComplaintFilters,
    ComplaintSort,
    ComplaintUpdate,
    FollowUpRequest,
    TransitionRequest,
)
from crm_feedback.complaints.sla_state import apply_policy, end_pause, refresh_deadlines
from crm_feedback.complaints.workflow import PAUSED_STATUSES, Action, Status, allowed_actions, next_status
from crm_feedback.config import Settings
from crm_feedback.db import Session
from crm_feedback.surveys import invitations as survey_invitations
from crm_feedback.surveys.schemas import InvitationRead


async def create(session: Session, *, data: ComplaintCreate, actor: str) -> Complaint:
    await ensure_customer(session, data.customer_id)
    now = utcnow()
    opened_at = data.opened_at or now
    if opened_at > now:
        raise Unprocessable(
            "invalid input: opened_at",
            errors=[{"field": "opened_at", "code": "in_future", "message": "opened_at is in the future"}],
        )
    complaint = Complaint(
        id=uuid.uuid4(),
        customer_id=data.customer_id,
        channel=data.channel,
        category=data.category,
        severity=data.severity,
        description=data.description,
        assignee_id=data.assignee_id,
        status=Status.open,
        escalated=False,
        escalation_level=0,
        pauses=[],
        opened_at=opened_at,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    if data.first_response_due_at or data.resolution_due_at:
        complaint.deadline_source, complaint.sla_warnings = "manual", []
        complaint.first_response_due_at = data.first_response_due_at
        complaint.resolution_due_at = data.resolution_due_at
    else:
        await apply_policy(session, complaint)
    session.add(complaint)
    await session.flush()
    complaint_repo.add_history(
        session, complaint, actor=actor, action="created", at=now, to_status=Status.open, note=data.note
    )
    await events.publish(
        session, events.COMPLAINT_CREATED, complaint.id, views.created_data(complaint), complaint.version
    )
    return complaint


async def get(session: Session, *, complaint_id: uuid.UUID) -> Complaint:
    complaint = await complaint_repo.get(session, complaint_id)
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} does not exist", code="complaint_not_found")
    return complaint


async def history(session: Session, complaint: Complaint) -> list[ComplaintHistory]:
    return (await complaint_repo.history_for(session, [complaint.id]))[complaint.id]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


async def update(session: Session, *, complaint: Complaint, data: ComplaintUpdate, actor: str) -> Complaint:
    fields = changes_of(data, not_nullable=("channel", "category", "severity", "description"))
    note = fields.pop("note", None)
    changes = {
        name: {"from": _jsonable(getattr(complaint, name)), "to": _jsonable(value)}
        for name, value in fields.items()
        if getattr(complaint, name) != value
    }
    if not changes:
        return complaint
    # One UPDATE (one version step) for the whole edit, however many queries it needs.
    with session.no_autoflush:
        for name in changes:
            setattr(complaint, name, fields[name])
        if {"first_response_due_at", "resolution_due_at"} & changes.keys():
            complaint.deadline_source, complaint.sla_warnings = "manual", []
        elif {"severity", "category"} & changes.keys() and complaint.deadline_source != "manual":
            await apply_policy(session, complaint)
    now = utcnow()
    await _record_change(session, complaint, actor=actor, action="edited", at=now, note=note, changes=changes)
    return complaint


async def _record_change(session: Session, complaint: Complaint, *, at: datetime, **history: Any) -> None:
    """A change to an existing complaint: stamped, written, and one line in its history
    (`history`: the rest of `complaint_repo.add_history`'s fields)."""
    complaint.updated_at = at
    await session.flush()
    complaint_repo.add_history(session, complaint, at=at, **history)


def _illegal(complaint: Complaint, action: str) -> Conflict:
    allowed = [a.value for a in allowed_actions(Status(complaint.status))]
    return Conflict(
        f"cannot {action} a complaint that is {complaint.status}; allowed: {', '.join(allowed) or 'none'}",
        code="illegal_transition",
        status_now=complaint.status,
        allowed=allowed,
    )


async def transition(
    session: Session, *, complaint: Complaint, data: TransitionRequest, actor: str, settings: Settings
) -> InvitationRead | None:
    """Apply one workflow action; the CSAT invitation it sent, if it resolved the complaint."""
    current = Status(complaint.status)
    target = next_status(current, data.action)
    if target is None:
        raise _illegal(complaint, data.action)
    if data.action == Action.resolve and not data.resolution:
        raise Unprocessable(
            "invalid input: resolution",
            errors=[{"field": "resolution", "code": "required", "message": "resolve needs a resolution"}],
        )
    now = utcnow()
    if data.action == Action.acknowledge and complaint.first_responded_at is None:
        complaint.first_responded_at = now
    if current in PAUSED_STATUSES and target not in PAUSED_STATUSES:
        with session.no_autoflush:
            end_pause(complaint, now)
            await refresh_deadlines(session, complaint)
    elif current not in PAUSED_STATUSES and target in PAUSED_STATUSES:
        complaint.paused_since = now
    changes: dict[str, Any] | None = None
    if data.action == Action.resolve:
        complaint.resolved_at, complaint.resolution = now, data.resolution
        changes = {"resolution": data.resolution}
    elif data.action == Action.close:
        complaint.closed_at = now
    elif data.action == Action.reopen:
        # The earlier resolution stays in the history; the complaint itself is unresolved again.
        complaint.resolved_at = complaint.closed_at = complaint.resolution = None
    elif data.action == Action.escalate:
        escalated_to = escalation.escalate(complaint, now, settings)
        changes = {"escalation_level": complaint.escalation_level, "escalated_to": _jsonable(escalated_to)}
    complaint.status = target
    await _record_change(
        session,
        complaint,
        actor=actor,
        action=data.action,
        at=now,
        from_status=current,
        to_status=target,
        note=data.note,
        changes=changes,
    )
    data_out = views.status_changed_data(complaint, current, data.action, now)
    await events.publish(session, events.COMPLAINT_STATUS_CHANGED, complaint.id, data_out, complaint.version)
    if data.action != Action.resolve:
        return None
    await events.publish(
        session, events.COMPLAINT_RESOLVED, complaint.id, views.resolved_data(complaint), complaint.version
    )
    if not settings.csat_on_resolve:
        return None
    return await survey_invitations.invite_after_complaint(
        session, complaint_id=complaint.id, customer_id=complaint.customer_id, actor=actor, settings=settings
    )


async def follow_up(session: Session, *, complaint: Complaint, data: FollowUpRequest, actor: str) -> Complaint:
    if complaint.status not in (Status.resolved, Status.closed):
        raise Conflict(
            f"a follow-up is recorded after resolution; the complaint is {complaint.status}",
            code="not_resolved",
            status_now=complaint.status,
        )
    now = utcnow()
    complaint.follow_up = {
        "attitude": data.attitude.value,
        "retained": data.retained,
        "note": data.note,
        "at": now.isoformat(),
        "by": actor,
    }
    changes = {"attitude": data.attitude.value, "retained": data.retained}
    await _record_change(session, complaint, actor=actor, action="follow_up", at=now, note=data.note, changes=changes)
    payload = {
        "id": str(complaint.id),
        "customer_id": str(complaint.customer_id),
        "attitude": data.attitude.value,
        "retained": data.retained,
    }
    await events.publish(session, events.COMPLAINT_FOLLOWED_UP, complaint.id, payload, complaint.version)
    return complaint


async def list_page(
    session: Session, *, filters: ComplaintFilters, sort: ComplaintSort, page: PageParams, principal: Principal
) -> tuple[Page[Complaint], dict[uuid.UUID, list[ComplaintHistory]]]:
    """A page of the complaints the caller may see, with each one's history."""
    found = await complaint_repo.list_page(session, filters, sort, page.limit, page.cursor, principal)
    return found, await complaint_repo.history_for(session, [r.id for r in found.items])
