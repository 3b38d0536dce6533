"""Background work of the scoring service: following the customer and feedback services' event
feeds, and re-scoring the customers those events touched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.consumer import follow_http_feed
from crm_scoring.config import Settings
from crm_scoring.db import infra
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
        "sessionmaker": app.state.sessionmaker,
        "tables": infra,
        "service": settings.service_name,
        "secret": settings.internal_secret.get_secret_value(),
        "wait": settings.feed_wait_seconds,
    }
    return [
        follow_http_feed(name="customer-events", base_url=settings.customer_url, handlers=HANDLERS, **common),
        follow_http_feed(name="feedback-events", base_url=settings.feedback_url, handlers=FEEDBACK_HANDLERS, **common),
    ]


async def drain_rescore_queue(sessionmaker: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Re-score queued customers until cancelled; a failure is logged and retried, never fatal."""
    while True:
        try:
            async with sessionmaker.begin() as session:
                taken = await score_service.drain(session)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("re-scoring failed; retrying")
            taken = 0
            await asyncio.sleep(5 * interval)
        if taken == 0:
            await asyncio.sleep(interval)


async def _rescorer(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    await run_service.fail_interrupted(app.state.sessionmaker)
    await drain_rescore_queue(app.state.sessionmaker, settings.rescore_interval_seconds)


def rescoring(app: FastAPI) -> Iterable[Coroutine[Any, Any, None]]:
    settings: Settings = app.state.settings
    return [_rescorer(app)] if settings.rescore_workers else []
