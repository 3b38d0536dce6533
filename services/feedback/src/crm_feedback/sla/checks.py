"""The SLA watch: warn before a deadline, record and escalate a breach, each once per target.

`check_slas` is the whole of the background job's work, given the time to judge by, so that tests
run it with a fixed `now`. Complaints whose clock is paused (waiting on the customer) are skipped:
their remaining time is frozen until they resume.

A complaint the check fails on (a bad row, an impossible calendar) is tried
`CRM_DEAD_LETTER_AFTER_ATTEMPTS` times in its own savepoint, then parked in `dead_letter` (consumer
`sla-check`) and left out of later rounds until an admin retries or discards it, so that every
other complaint goes on being watched.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_chassis.consumer import TRANSIENT, park
from crm_chassis.db import utcnow
from crm_feedback import events
from crm_feedback.complaints import escalation, views
from crm_feedback.complaints import repository as complaint_repo
from crm_feedback.complaints.models import Complaint
from crm_feedback.config import Settings
from crm_feedback.db import Session, infra

ACTOR = "system:sla"
# The dead-letter name of complaints the watch could not check.
SLA_CHECK_CONSUMER = "sla-check"
logger = logging.getLogger("crm.feedback.sla")


@dataclass
class SlaCheckResult:
    warnings: int = 0
    breaches: int = 0
    parked: int = 0


async def _check_target(
    session: Session, complaint: Complaint, target: str, now: datetime, lead: timedelta, settings: Settings
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
        complaint_repo.add_history(
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
        complaint_repo.add_history(
            session, complaint, actor=ACTOR, action="sla_warning", at=now, note=f"{target} due {due.isoformat()}"
        )
        data = views.sla_data(complaint, target, due)
        await events.publish(session, events.COMPLAINT_SLA_WARNING, complaint.id, data, complaint.version)
        return 1, 0
    return 0, 0


async def _check(session: Session, complaint: Complaint, now: datetime, settings: Settings) -> tuple[int, int]:
    lead = timedelta(minutes=settings.sla_warning_lead_minutes)
    warnings = breaches = 0
    targets = ["resolution"] if complaint.first_responded_at is not None else ["first_response", "resolution"]
    for target in targets:
        warned, breached = await _check_target(session, complaint, target, now, lead, settings)
        warnings += warned
        breaches += breached
    return warnings, breaches


async def check_slas(
    session: Session,
    now: datetime,
    settings: Settings,
    *,
    limit: int = 500,
    on_park: Callable[[], None] = lambda: None,
) -> SlaCheckResult:
    """One round of the watch over at most `limit` complaints; the next round takes the rest."""
    lead = timedelta(minutes=settings.sla_warning_lead_minutes)
    result = SlaCheckResult()
    due = await complaint_repo.due_for_sla_check(
        session, now=now, horizon=now + lead, limit=limit, parked_as=SLA_CHECK_CONSUMER
    )
    for complaint in due:
        complaint_id = complaint.id
        error: Exception | None = None
        for attempt in range(settings.dead_letter_after_attempts):
            try:
                if attempt:  # the failed savepoint expired what it had changed
                    await session.refresh(complaint)
                async with session.begin_nested():
                    warned, breached = await _check(session, complaint, now, settings)
                result.warnings += warned
                result.breaches += breached
                error = None
                break
            except TRANSIENT:
                raise
            except Exception as exc:
                error = exc
        if error is not None:
            item = {"complaint_id": str(complaint_id), "checked_at": now.isoformat()}
            await park(
                session, infra, SLA_CHECK_CONSUMER, complaint_id, item, error, settings.dead_letter_after_attempts
            )
            logger.error(
                "complaint parked in dead_letter", extra={"complaint_id": str(complaint_id), "error": repr(error)[:500]}
            )
            result.parked += 1
            on_park()
    return result


def retry_parked(settings: Settings) -> Callable[[Session, dict[str, Any]], Any]:
    """An admin's retry of a parked complaint: check it now (raises if it still cannot be)."""

    async def retry(session: Session, item: dict[str, Any]) -> None:
        complaint = await complaint_repo.get(session, uuid.UUID(item["complaint_id"]))
        if complaint is not None:
            await _check(session, complaint, utcnow(), settings)

    return retry
