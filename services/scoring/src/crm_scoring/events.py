"""Events the scoring service publishes (catalogue in docs/events.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.events import record_event
from crm_scoring.db import infra

SEGMENT_CHANGED = "score.segment_changed"
CHURN_RISK_RAISED = "score.churn_risk_raised"


async def publish(session: AsyncSession, type: str, aggregate_id: Any, data: dict[str, Any], version: int) -> None:
    await record_event(session, infra.outbox, type, aggregate_id, data, version=version)
