"""The history of a complaint: who did what, when, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_feedback.complaints.models import Complaint, ComplaintHistory


def add_history(
    session: AsyncSession,
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
