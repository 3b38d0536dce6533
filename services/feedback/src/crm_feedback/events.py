"""Events the feedback service publishes (catalogue in docs/events.md)."""

from __future__ import annotations

from typing import Any

from crm_chassis.events import record_event
from crm_feedback.db import Session, infra

COMPLAINT_CREATED = "complaint.created"
COMPLAINT_STATUS_CHANGED = "complaint.status_changed"
COMPLAINT_RESOLVED = "complaint.resolved"
COMPLAINT_SLA_WARNING = "complaint.sla_warning"
COMPLAINT_SLA_BREACHED = "complaint.sla_breached"
COMPLAINT_FOLLOWED_UP = "complaint.followed_up"
SURVEY_RESPONDED = "survey.responded"
SERVICE_RECORD_RECORDED = "service_record.recorded"


async def publish(session: Session, type: str, aggregate_id: Any, data: dict[str, Any], version: int = 1) -> None:
    await record_event(session, infra.outbox, type, aggregate_id, data, version=version)
