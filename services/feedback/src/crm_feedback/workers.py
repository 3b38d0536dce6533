"""Background work of the feedback service: following the customer and scoring feeds, watching SLAs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import FastAPI

from crm_chassis.db import utcnow
from crm_chassis.metrics import JOBS
from crm_chassis.transport import Feed, follow
from crm_feedback.config import Settings
from crm_feedback.db import DatabaseError, Sessionmaker, infra
from crm_feedback.readmodel.handlers import HANDLERS
from crm_feedback.sla.checks import SLA_CHECK_CONSUMER, check_slas
from crm_feedback.surveys.exits import scoring_handlers

logger = logging.getLogger("crm.feedback.sla")


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
    follow_customers = follow(
        name="customer-events", feed=Feed("customer", settings.customer_url), handlers=HANDLERS, **common
    )
    follow_scoring = follow(
        name="scoring-events", feed=Feed("scoring", settings.scoring_url), handlers=scoring_handlers(settings), **common
    )
    return [follow_customers, follow_scoring]


async def watch_slas(
    sessionmaker: Sessionmaker, settings: Settings, on_park: Callable[[], None] = lambda: None
) -> None:
    """Run `check_slas` every interval until cancelled; a failed round is logged and retried."""
    while True:
        started = time.perf_counter()
        try:
            async with sessionmaker.begin() as session:
                result = await check_slas(session, utcnow(), settings, on_park=on_park)
            JOBS.observe("sla_check", "succeeded", time.perf_counter() - started)
            if result.warnings or result.breaches:
                logger.info("sla check", extra={"warnings": result.warnings, "breaches": result.breaches})
        except asyncio.CancelledError:
            raise
        except (DatabaseError, OSError):
            JOBS.observe("sla_check", "failed", time.perf_counter() - started)
            logger.warning("sla check failed", exc_info=True)
        except Exception:
            # A bad complaint is parked by the round itself; anything else is logged and retried.
            JOBS.observe("sla_check", "failed", time.perf_counter() - started)
            logger.exception("sla check crashed")
        await asyncio.sleep(settings.sla_check_interval_seconds)


def sla_watch(app: FastAPI) -> Iterable[Coroutine[Any, Any, None]]:
    settings: Settings = app.state.settings
    if not settings.run_sla_checks:
        return []
    parked = app.state.consumer_metrics.dead_lettered.labels(SLA_CHECK_CONSUMER)
    return [watch_slas(app.state.sessionmaker, settings, on_park=parked.inc)]
