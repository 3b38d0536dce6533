"""Events the scoring service publishes (catalogue in docs/events.md)."""

from __future__ import annotations

from typing import Any

from crm_chassis.events import record_event
from crm_scoring.db import Session, infra

SEGMENT_CHANGED = "score.segment_changed"
CHURN_RISK_RAISED = "score.churn_risk_raised"
RUN_FINISHED = "scoring_run.finished"
SUGGESTIONS_CHANGED = "score.suggestions_changed"


async def publish(session: Session, type: str, aggregate_id: Any, data: dict[str, Any], version: int) -> None:
    await record_event(session, infra.outbox, type, aggregate_id, data, version=version)
