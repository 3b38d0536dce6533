"""Re-scoring single customers between runs, against the last run's model and breakpoints."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_scoring.readmodel import stats
from crm_scoring.readmodel.models import RescoreRequest
from crm_scoring.runs.models import ScoringModel
from crm_scoring.scores import engine, writer
from crm_scoring.scores.models import CustomerScore
from crm_scoring.settings import service as settings_service
from crm_scoring.settings.schemas import ScoringSettings


async def latest_model(session: AsyncSession) -> ScoringModel | None:
    stmt = select(ScoringModel).order_by(ScoringModel.created_at.desc()).limit(1)
    return (await session.scalars(stmt)).one_or_none()


async def model_and_settings(session: AsyncSession) -> tuple[ScoringModel | None, dict[str, Any], ScoringSettings]:
    """The last run's model with the settings it ran with; current settings before any run."""
    row = await latest_model(session)
    if row is None:
        return None, {}, await settings_service.current(session)
    return row, row.model, ScoringSettings.model_validate(row.model["settings"])


async def request(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """Queue a customer for re-scoring; repeated requests collapse into one."""
    existing = await session.get(RescoreRequest, customer_id)
    if existing is None:
        session.add(RescoreRequest(customer_id=customer_id, requested_at=utcnow()))
    else:
        existing.requested_at = utcnow()


async def rescore(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[str, int]:
    row, model, settings = await model_and_settings(session)
    now = utcnow()
    pop = await stats.load(session, as_of=now, settings=settings, ids=ids)
    if not len(pop):
        return {"segment_changed": 0, "churn_risk_raised": 0}
    columns = writer.staged(pop, engine.score(pop, model, settings))
    stamp = writer.Stamp(
        run_id=row.run_id if row else None,
        as_of=now,
        scored_at=now,
        warning_threshold=settings.churn_warning_threshold,
    )
    return await writer.write(session, pop, columns, stamp)


async def drain(session: AsyncSession, limit: int = 500) -> int:
    """Re-score up to `limit` queued customers; returns how many were taken from the queue."""
    queued = (
        await session.execute(
            select(RescoreRequest.customer_id, RescoreRequest.requested_at)
            .order_by(RescoreRequest.requested_at)
            .limit(limit)
        )
    ).all()
    if not queued:
        return 0
    await rescore(session, [cid for cid, _ in queued])
    for cid, requested_at in queued:
        # a request that arrived while this one was being scored stays queued
        await session.execute(
            delete(RescoreRequest).where(RescoreRequest.customer_id == cid, RescoreRequest.requested_at <= requested_at)
        )
    return len(queued)


async def forget(session: AsyncSession, customer_id: uuid.UUID) -> None:
    await session.execute(delete(CustomerScore).where(CustomerScore.customer_id == customer_id))
    await session.execute(delete(RescoreRequest).where(RescoreRequest.customer_id == customer_id))
