"""Escalation to the assignee's manager.

The feedback service does not own the organisation chart, so the manager of an assignee comes from
configuration (`escalation_managers`, a default manager). With neither, the complaint is only marked
escalated (level and history), which the managers' complaint lists filter on.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from crm_feedback.complaints.models import Complaint
from crm_feedback.config import Settings


def manager_for(assignee_id: uuid.UUID | None, settings: Settings) -> uuid.UUID | None:
    if assignee_id is not None and assignee_id in settings.escalation_managers:
        return settings.escalation_managers[assignee_id]
    return settings.escalation_default_manager_id


def escalate(complaint: Complaint, now: datetime, settings: Settings) -> uuid.UUID | None:
    complaint.escalated = True
    complaint.escalation_level += 1
    complaint.escalated_at = now
    complaint.escalated_to = manager_for(complaint.assignee_id, settings) or complaint.escalated_to
    return complaint.escalated_to
