"""Complaints as clients and other services see them: API shapes and event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm_chassis.db import utcnow
from crm_feedback.complaints.models import Complaint, ComplaintHistory
from crm_feedback.complaints.schemas import ComplaintRead, HistoryEntry
from crm_feedback.complaints.sla_state import first_response_breached, resolution_breached
from crm_feedback.complaints.workflow import Status, allowed_actions


def read_model(complaint: Complaint, history: list[ComplaintHistory]) -> ComplaintRead:
    now = utcnow()
    return ComplaintRead.model_validate(
        {
            **{name: getattr(complaint, name) for name in ComplaintRead.model_fields if hasattr(complaint, name)},
            "allowed_actions": allowed_actions(Status(complaint.status)),
            "sla_paused": complaint.paused_since is not None,
            "first_response_breached": first_response_breached(complaint, now),
            "resolution_breached": resolution_breached(complaint, now),
            "history": [HistoryEntry.model_validate(h) for h in history],
        }
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def created_data(complaint: Complaint) -> dict[str, Any]:
    return {
        "id": str(complaint.id),
        "customer_id": str(complaint.customer_id),
        "category": complaint.category,
        "severity": complaint.severity,
        "channel": complaint.channel,
        "status": complaint.status,
        "opened_at": complaint.opened_at.isoformat(),
        "first_response_due_at": _iso(complaint.first_response_due_at),
        "resolution_due_at": _iso(complaint.resolution_due_at),
    }


def status_changed_data(complaint: Complaint, previous: str, action: str, at: datetime) -> dict[str, Any]:
    return {
        "id": str(complaint.id),
        "customer_id": str(complaint.customer_id),
        "category": complaint.category,
        "severity": complaint.severity,
        "status": complaint.status,
        "previous_status": previous,
        "action": action,
        "at": at.isoformat(),
    }


def resolved_data(complaint: Complaint) -> dict[str, Any]:
    return {
        "id": str(complaint.id),
        "customer_id": str(complaint.customer_id),
        "category": complaint.category,
        "severity": complaint.severity,
        "resolved_at": _iso(complaint.resolved_at),
    }


def sla_data(complaint: Complaint, target: str, due_at: datetime) -> dict[str, Any]:
    return {
        "id": str(complaint.id),
        "customer_id": str(complaint.customer_id),
        "target": target,
        "due_at": due_at.isoformat(),
    }
