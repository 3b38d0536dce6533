"""Background work of the scoring service: following the customer and feedback services' event
feeds, and re-scoring the customers those events touched.

The re-scoring worker runs on an event loop of its own, in a thread, with its own small engine. On
the request-serving loop each of a round's dozen statements waited behind every request and
consumer batch ready to run, so that a round of 0.1 s took 0.5 s while the score cards were read
often (docs/performance.md, "Consumers that linger, and a slower re-scoring round"). In its own
loop a round waits only for the database and its turn at the interpreter lock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import FastAPI

from crm_chassis.consumer import TRANSIENT
from crm_chassis.db import create_engine, create_sessionmaker
from crm_chassis.events import OutboxSignal
from crm_chassis.metrics import JOBS
from crm_chassis.transport import Feed, follow
from crm_scoring.config import Settings
from crm_scoring.db import SCHEMA, Session, Sessionmaker, infra
from crm_scoring.readmodel.activity import read_orders
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
        follow(
            name="customer-events",
            feed=Feed("customer", settings.customer_url),
            handlers=HANDLERS,
            prepare=read_orders,
            **common,
        ),
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


RESCORE_POOL_SIZE = 2  # one round at a time, and its fallback


class ThreadSafeSignal:
    """An `OutboxSignal` of one loop, notified from a thread running another (a commit there wakes
    the feed readers here)."""

    def __init__(self, signal: OutboxSignal, loop: asyncio.AbstractEventLoop) -> None:
        self.signal = signal
        self.loop = loop

    def notify(self) -> None:
        self.loop.call_soon_threadsafe(self.signal.notify)


async def in_own_loop(make: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
    """Run `make()` on a new event loop in a thread of its own until it ends, and raise what it
    raised. Cancelled, this cancels it there and waits for its cleanup to finish."""
    here = asyncio.get_running_loop()
    ended: asyncio.Future[BaseException | None] = here.create_future()
    started = threading.Event()
    there: dict[str, Any] = {}

    def settle(outcome: BaseException | None) -> None:
        if not ended.done():
            ended.set_result(outcome)

    def target() -> None:
        loop = asyncio.new_event_loop()
        task = loop.create_task(make())
        there.update(loop=loop, task=task)
        started.set()
        outcome: BaseException | None = None
        try:
            loop.run_until_complete(task)
        except BaseException as exc:  # handed to the awaiting loop
            outcome = exc
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            here.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=target, name=name, daemon=True).start()
    try:
        outcome = await asyncio.shield(ended)
    except asyncio.CancelledError:
        started.wait()
        there["loop"].call_soon_threadsafe(there["task"].cancel)
        await ended  # its cleanup (a rollback, the engine's disposal) ends before ours goes on
        raise
    if outcome is not None:
        raise outcome


async def _rescorer(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    await run_service.fail_interrupted(app.state.sessionmaker)
    parked = app.state.consumer_metrics.dead_lettered.labels(RESCORE_CONSUMER)
    signal = ThreadSafeSignal(app.state.outbox_signal, asyncio.get_running_loop())

    async def rescore_until_cancelled() -> None:
        engine = create_engine(settings.database_url, SCHEMA, pool_size=RESCORE_POOL_SIZE)
        try:
            await drain_rescore_queue(
                create_sessionmaker(engine, outbox_signal=signal),
                settings.rescore_interval_seconds,
                max_attempts=settings.dead_letter_after_attempts,
                on_park=parked.inc,
            )
        finally:
            await engine.dispose()

    await in_own_loop(rescore_until_cancelled, "rescore")


def rescoring(app: FastAPI) -> Iterable[Coroutine[Any, Any, None]]:
    settings: Settings = app.state.settings
    return [_rescorer(app)] if settings.rescore_workers else []
