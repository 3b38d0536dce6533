"""Jobs that run in the service process after the request that started them has been answered.

Each job is an asyncio task held in a per-router set on the app (so it is not garbage collected),
cancelled at shutdown. A process that crashes cannot mark its jobs failed, so every process sweeps:
at start and then every minute, unfinished jobs whose heartbeat is older than `SILENT_AFTER` and
that no task of this process runs are marked failed. Jobs are not resumed: imports are upserts, so
sending the file again is the recovery, and nothing hides half-done work behind a retry.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI

from crm_chassis.db import utcnow
from crm_customer.db import Session, Sessionmaker

SILENT_AFTER = timedelta(minutes=2)
SWEEP_EVERY_SECONDS = 60.0
logger = logging.getLogger("crm.jobs")

# (session, silent since, ids of the jobs this process runs) -> number of jobs marked failed
Sweep = Callable[[Session, datetime, set[uuid.UUID]], Awaitable[int]]


def _tasks(app: FastAPI, name: str) -> dict[uuid.UUID, asyncio.Task[None]]:
    registry: dict[str, dict[uuid.UUID, asyncio.Task[None]]] | None = getattr(app.state, "job_tasks", None)
    if registry is None:
        registry = app.state.job_tasks = {}
    return registry.setdefault(name, {})


def spawn(app: FastAPI, name: str, job_id: uuid.UUID, job: Coroutine[Any, Any, None]) -> None:
    tasks = _tasks(app, name)
    task = asyncio.create_task(job, name=f"{name}:{job_id}")
    tasks[job_id] = task
    task.add_done_callback(lambda _: tasks.pop(job_id, None))


async def _sweep_forever(app: FastAPI, name: str, sweep: Sweep) -> None:
    sessionmaker: Sessionmaker = app.state.sessionmaker
    while True:
        try:
            async with sessionmaker.begin() as session:
                count = await sweep(session, utcnow() - SILENT_AFTER, set(_tasks(app, name)))
            if count:
                logger.warning("orphaned jobs marked failed", extra={"jobs": name, "count": count})
        except Exception:  # a busy database must not end the sweeping
            logger.exception("sweeping orphaned jobs failed", extra={"jobs": name})
        await asyncio.sleep(SWEEP_EVERY_SECONDS)


def jobs_lifespan(name: str, sweep: Sweep) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A router lifespan: sweep orphans while the app runs, cancel this process's jobs at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(_sweep_forever(app, name, sweep), name=f"{name}:sweeper")
        try:
            yield
        finally:
            running = [sweeper, *_tasks(app, name).values()]
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    return lifespan
