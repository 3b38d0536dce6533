"""Full rescoring runs: one at a time, in the background, stage by stage with timings.

Stages: `load` (per-customer statistics aggregated in SQL), `fit` (BG/NBD and Gamma-Gamma),
`score` (every score, vectorised), `write` (bulk upserts and events, in chunks that each commit
with their progress). CPU-bound stages run in a worker thread so the service keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound
from crm_chassis.identity import Principal
from crm_scoring.readmodel import stats
from crm_scoring.readmodel.models import RescoreRequest
from crm_scoring.readmodel.stats import Population
from crm_scoring.runs.models import ScoringModel, ScoringRun
from crm_scoring.scores import engine, writer
from crm_scoring.settings import service as settings_service

logger = logging.getLogger("crm.scoring.runs")
ACTIVE = ("queued", "running")
WRITE_CHUNK = 100_000  # customers per committed step of the write stage


async def start(session: AsyncSession, *, principal: Principal, as_of: datetime | None) -> ScoringRun:
    running = await session.scalar(select(ScoringRun).where(ScoringRun.active == 1))
    if running is not None:
        raise _busy(running)
    now = utcnow()
    run = ScoringRun(
        id=uuid.uuid4(),
        status="queued",
        active=1,
        as_of=as_of or now,
        requested_by=principal.subject,
        created_at=now,
        progress_done=0,
        progress_total=0,
        counts={},
        timings={},
    )
    try:
        async with session.begin_nested():
            session.add(run)
    except IntegrityError:
        running = await session.scalar(select(ScoringRun).where(ScoringRun.active == 1))
        raise _busy(running) from None
    return run


def _busy(running: ScoringRun | None) -> Conflict:
    run_id = str(running.id) if running else None
    return Conflict(
        f"scoring run {run_id} is {running.status if running else 'running'}; one run at a time",
        code="run_in_progress",
        running_run_id=run_id,
    )


async def get(session: AsyncSession, run_id: uuid.UUID) -> ScoringRun:
    run = await session.get(ScoringRun, run_id)
    if run is None:
        raise NotFound(f"scoring run {run_id} does not exist", code="run_not_found")
    return run


async def _update(sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, **values: Any) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(update(ScoringRun).where(ScoringRun.id == run_id).values(**values))


async def execute(sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, *, writers: int = 1) -> None:
    """Carry a queued run to `succeeded` or `failed`; never raises.

    The write stage commits chunk by chunk (each with its progress), through up to `writers`
    connections at once on PostgreSQL.
    """
    timings: dict[str, float] = {}
    try:
        async with sessionmaker() as session:
            run = await get(session, run_id)
            as_of = run.as_of
            settings = await settings_service.current(session)
        await _update(sessionmaker, run_id, status="running", started_at=utcnow())
        clock = time.perf_counter()
        loaded_at = utcnow()
        async with sessionmaker() as session:
            pop = await stats.load(session, as_of=as_of, settings=settings)
        timings["load"] = round(time.perf_counter() - clock, 3)
        await _update(sessionmaker, run_id, progress_total=len(pop), timings=dict(timings))

        clock = time.perf_counter()
        model = await asyncio.to_thread(engine.fit, pop, settings)
        timings["fit"] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()
        arrays = await asyncio.to_thread(engine.score, pop, model, settings)
        columns = await asyncio.to_thread(writer.staged, pop, arrays)
        timings["score"] = round(time.perf_counter() - clock, 3)

        clock = time.perf_counter()
        stamp = writer.Stamp(
            run_id=run_id, as_of=as_of, scored_at=utcnow(), warning_threshold=settings.churn_warning_threshold
        )
        counts = await _write(sessionmaker, run_id, pop, columns, stamp, writers=writers)
        timings["write"] = round(time.perf_counter() - clock, 3)
        lifecycle, key_kind = columns["lifecycle_suggestion"], columns["key_customer_kind"]
        summary = {
            "customers": len(pop),
            "buyers": model["buyers"],
            "repeat_buyers": model["repeat_buyers"],
            "at_risk": int((lifecycle == "at_risk").sum()),
            "lost": int((lifecycle == "lost").sum()),
            "key_customers": int(sum(1 for kind in key_kind.tolist() if kind is not None)),
            **counts,
        }
        async with sessionmaker.begin() as session:
            now = utcnow()
            session.add(ScoringModel(run_id=run_id, as_of=as_of, created_at=now, model=model))
            # the run saw every fact queued before it loaded; later requests stay queued
            await session.execute(delete(RescoreRequest).where(RescoreRequest.requested_at <= loaded_at))
            await session.execute(
                update(ScoringRun)
                .where(ScoringRun.id == run_id)
                .values(status="succeeded", active=None, finished_at=now, counts=summary, timings=timings)
            )
    except Exception as exc:
        logger.exception("scoring run failed", extra={"run_id": str(run_id)})
        await _update(
            sessionmaker,
            run_id,
            status="failed",
            active=None,
            finished_at=utcnow(),
            timings=timings,
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )


async def _write(
    sessionmaker: async_sessionmaker[AsyncSession],
    run_id: uuid.UUID,
    pop: Population,
    columns: writer.Staged,
    stamp: writer.Stamp,
    *,
    writers: int,
) -> dict[str, int]:
    counts = {"segment_changed": 0, "churn_risk_raised": 0}
    chunks = [(start, min(start + WRITE_CHUNK, len(pop))) for start in range(0, len(pop), WRITE_CHUNK)]
    chunks.reverse()  # popped from the end: written in id order

    async def worker() -> None:
        while chunks:
            start, stop = chunks.pop()
            async with sessionmaker.begin() as session:
                changed = await writer.write(session, pop, columns, stamp, start=start, stop=stop)
                done = ScoringRun.progress_done + (stop - start)
                await session.execute(update(ScoringRun).where(ScoringRun.id == run_id).values(progress_done=done))
            for key, value in changed.items():
                counts[key] += value

    if sessionmaker.kw["bind"].dialect.name != "postgresql":
        writers = 1
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, writers)):
                group.create_task(worker())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return counts


async def fail_interrupted(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """A run left queued or running by a stopped process will never finish: free the slot."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(ScoringRun)
            .where(ScoringRun.status.in_(ACTIVE))
            .values(status="failed", active=None, finished_at=utcnow(), error="interrupted: the service restarted")
        )
