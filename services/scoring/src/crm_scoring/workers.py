"""Background work of the scoring service: following the customer and feedback services' event
feeds, and re-scoring the customers those events touched."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import FastAPI

from crm_chassis.consumer import TRANSIENT
from crm_chassis.metrics import JOBS
from crm_chassis.transport import Feed, follow
from crm_scoring.config import Settings
from crm_scoring.db import Session, Sessionmaker, infra
from crm_scoring.readmodel.feedback import FEEDBACK_HANDLERS
from crm_scoring.readmodel.handlers import HANDLERS
from crm_scoring.runs import service as run_service
from crm_scoring.scores import service as score_service

logger = logging.getLogger("crm.scoring.workers")


def consumers(app: FastAPI) -> Iterable[Coroutine[Any, Any, None]]:
    settings: Settings = app.state.settings
    if not settings.consume_events:
        return []
    common: dict[str, Any] = {
        "settings": settings,
        "nats": app.state.nats,
        "sessionmaker": app.state.sessionmaker,
        "tables": infra,
        "wait": settings.feed_wait_seconds,
        "metrics": app.state.consumer_metrics,
    }
    return [
        follow(name="customer-events", feed=Feed("customer", settings.customer_url), handlers=HANDLERS, **common),
        follow(
            name="feedback-events", feed=Feed("feedback", settings.feedback_url), handlers=FEEDBACK_HANDLERS, **common
        ),
    ]


RESCORE_CONSUMER = score_service.RESCORE_CONSUMER


async def retry_rescore(session: Session, item: dict[str, Any]) -> None:
    await score_service.retry_parked(session, item)


async def drain_rescore_queue(
    sessionmaker: Sessionmaker, interval: float, *, max_attempts: int = 3, on_park: Callable[[], None] = lambda: None
) -> None:
    """Re-score queued customers until cancelled. A batch that fails is scored again one customer
    at a time, and a customer who cannot be scored is parked, so one bad record stops no one else."""
    while True:
        started = time.perf_counter()
        try:
            try:
                async with sessionmaker.begin() as session:
                    taken = await score_service.drain(session)
            except TRANSIENT:
                raise
            except Exception as exc:
                logger.warning("re-scoring batch failed; scoring its customers one by one", extra={"error": repr(exc)})
                async with sessionmaker.begin() as session:
                    taken = await score_service.drain_each(
                        session, infra, limit=500, max_attempts=max_attempts, on_park=on_park
                    )
            if taken:  # an empty round is no job
                JOBS.observe("rescore", "succeeded", time.perf_counter() - started)
        except asyncio.CancelledError:
            raise
        except Exception:
            JOBS.observe("rescore", "failed", time.perf_counter() - started)
            logger.warning("re-scoring failed; retrying", exc_info=True)
            taken = 0
            await asyncio.sleep(5 * interval)
        if taken == 0:
            await asyncio.sleep(interval)


async def _rescorer(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    await run_service.fail_interrupted(app.state.sessionmaker)
    parked = app.state.consumer_metrics.dead_lettered.labels(RESCORE_CONSUMER)
    await drain_rescore_queue(
        app.state.sessionmaker,
        settings.rescore_interval_seconds,
        max_attempts=settings.dead_letter_after_attempts,
        on_park=parked.inc,
    )


def rescoring(app: FastAPI) -> Iterable[Coroutine[Any, Any, None]]:
    settings: Settings = app.state.settings
    return [_rescorer(app)] if settings.rescore_workers else []
