"""Background work of the feedback service: following the customer and scoring feeds, watching SLAs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.consumer import follow_http_feed
from crm_chassis.db import utcnow
from crm_feedback.config import Settings
from crm_feedback.db import infra
from crm_feedback.readmodel.handlers import HANDLERS
from crm_feedback.sla.checks import check_slas
from crm_feedback.surveys.exits import scoring_handlers

logger = logging.getLogger("crm.feedback.sla")


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
    follow_customers = follow_http_feed(
        name="customer-events", base_url=settings.customer_url, handlers=HANDLERS, **common
    )
    follow_scoring = follow_http_feed(
        name="scoring-events", base_url=settings.scoring_url, handlers=scoring_handlers(settings), **common
    )
    return [follow_customers, follow_scoring]


async def watch_slas(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Run `check_slas` every interval until cancelled; a failed round is logged and retried."""
    while True:
        try:
            async with sessionmaker.begin() as session:
                result = await check_slas(session, utcnow(), settings)
            if result.warnings or result.breaches:
                logger.info("sla check", extra={"warnings": result.warnings, "breaches": result.breaches})
        except asyncio.CancelledError:
            raise
        except (SQLAlchemyError, OSError):
            logger.warning("sla check failed", exc_info=True)
        except Exception:
            # A bad row (say, an impossible calendar) must not stop the watch for every other complaint.
            logger.exception("sla check crashed")
        await asyncio.sleep(settings.sla_check_interval_seconds)


def sla_watch(app: FastAPI) -> Iterable[Coroutine[Any, Any, None]]:
    settings: Settings = app.state.settings
    if not settings.run_sla_checks:
        return []
    return [watch_slas(app.state.sessionmaker, settings)]
