"""Every query on scoring runs and the models they fitted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from crm_chassis.pagination import Page, paginate
from crm_scoring.db import Session
from crm_scoring.runs.models import ScoringModel, ScoringRun

ACTIVE = ("queued", "running")
LIVE, BACKTEST = "live", "backtest"
_NEWEST_FIRST = [(ScoringRun.created_at, True), (ScoringRun.id, True)]


async def get(session: Session, run_id: uuid.UUID) -> ScoringRun | None:
    return await session.get(ScoringRun, run_id, populate_existing=True)


async def active(session: Session) -> ScoringRun | None:
    """The run queued or running, if any."""
    return await session.scalar(select(ScoringRun).where(ScoringRun.active == 1))


async def add_if_idle(session: Session, run: ScoringRun) -> bool:
    """Insert a new active run; False when the unique `active` index refuses it (another one is active)."""
    try:
        async with session.begin_nested():
            session.add(run)
    except IntegrityError:
        return False
    return True


async def list_page(session: Session, limit: int, cursor: str | None) -> Page[ScoringRun]:
    """The run history, newest first."""
    return await paginate(session, select(ScoringRun), _NEWEST_FIRST, "runs", limit, cursor)


async def update_run(session: Session, run_id: uuid.UUID, **values: Any) -> None:
    await session.execute(update(ScoringRun).where(ScoringRun.id == run_id).values(**values))


async def add_progress(session: Session, run_id: uuid.UUID, done: int) -> None:
    """Count `done` more customers written, in the statement itself (chunks commit concurrently)."""
    await update_run(session, run_id, progress_done=ScoringRun.progress_done + done)


async def fail_active(session: Session, *, at: datetime, error: str) -> None:
    await session.execute(
        update(ScoringRun)
        .where(ScoringRun.status.in_(ACTIVE))
        .values(status="failed", active=None, finished_at=at, error=error)
    )


async def latest_model(session: Session) -> ScoringModel | None:
    """The model of the last succeeded live run (a backtest's model is only under its run)."""
    stmt = (
        select(ScoringModel)
        .join(ScoringRun, ScoringRun.id == ScoringModel.run_id)
        .where(ScoringRun.mode == LIVE)
        .order_by(ScoringModel.created_at.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).one_or_none()


async def model_of(session: Session, run_id: uuid.UUID) -> ScoringModel | None:
    return await session.get(ScoringModel, run_id)
