"""`create_service_app`: one FastAPI application with every piece of the chassis wired in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.schema import MetaData

from crm_chassis import tracing
from crm_chassis.consumer import ConsumerMetrics
from crm_chassis.controls import ControlCharacterMiddleware
from crm_chassis.db import (
    DATABASE_RETRY_AFTER_SECONDS,
    create_engine,
    create_read_engine,
    create_sessionmaker,
    lost_a_race,
)
from crm_chassis.dead_letters import Retry, dead_letter_router
from crm_chassis.errors import install_error_handlers, problem_response, public_path, unexpected_error
from crm_chassis.events import OutboxSignal
from crm_chassis.feed import feed_router
from crm_chassis.idempotency import IdempotencyMiddleware
from crm_chassis.lease import hold_lease
from crm_chassis.lifecycle import on_terminate
from crm_chassis.logging import configure_logging
from crm_chassis.metrics import OutboxMetrics, exposition
from crm_chassis.middleware import (
    BUSY,
    BodyLimitMiddleware,
    HttpMetrics,
    InternalAuthMiddleware,
    RequestContextMiddleware,
)
from crm_chassis.openapi import install_contract, operation_id
from crm_chassis.query import reject_unknown_query
from crm_chassis.settings import ServiceSettings
from crm_chassis.tables import InfraTables
from crm_chassis.transport import NatsConnection, relay_outbox

PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics")
logger = logging.getLogger("crm.app")

# Called with the app once the engine exists; returns background coroutines to run until shutdown.
Worker = Callable[[FastAPI], Iterable[Coroutine[Any, Any, None]]]


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"], include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", response_model=None)
    async def readyz(request: Request) -> dict[str, str] | Response:
        try:
            async with asyncio.timeout(2):
                async with request.app.state.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return problem_response(
                503, "not_ready", f"database unreachable: {type(exc).__name__}", headers={"Retry-After": "5"}
            )
        return {"status": "ready"}

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        return Response(exposition(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return router


# How long the workers get to end once cancelled. A worker whose cleanup waits on a thread (a
# rollback queued behind SQLite's busy wait of up to 30 s) ends only when the thread returns; the
# process must not wait for it past the orchestrator's grace period, so it goes on with a warning
# naming what was left.
BACKGROUND_STOP_SECONDS = 10.0


async def stop_background(tasks: list[asyncio.Task[None]], timeout: float = BACKGROUND_STOP_SECONDS) -> None:
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    if pending:
        logger.warning(
            "background work still running after cancellation; stopping without it",
            extra={"tasks": sorted(task.get_name() for task in pending), "seconds": timeout},
        )


def create_service_app(
    *,
    settings: ServiceSettings,
    schema: str,
    metadata: MetaData,
    infra: InfraTables,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    workers: Iterable[Worker] = (),
    body_limits: dict[str, int] | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
    dead_letter_retries: Mapping[str, Retry] | None = None,
) -> FastAPI:
    """`workers` run in one replica at a time (a leader lease, `crm_chassis.lease`), and with
    `CRM_EVENT_TRANSPORT=nats` so does the relay of the outbox to JetStream.
    `dead_letter_retries` names, per consumer or worker, how an admin's retry processes a parked item."""
    settings.refuse_known_secrets()
    workers = list(workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        engine = create_engine(settings.database_url, schema, pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.outbox_signal = OutboxSignal()
        # Set when SIGTERM arrives: long-polls answer at once so the server can drain in time.
        draining = app.state.draining = asyncio.Event()
        restore_signals = on_terminate(draining.set)
        app.state.sessionmaker = create_sessionmaker(engine, outbox_signal=app.state.outbox_signal)
        pool_size = settings.database_pool_size
        read_engine = create_read_engine(settings.database_url, schema, engine, pool_size=pool_size)
        app.state.read_sessionmaker = create_sessionmaker(read_engine)
        nats = app.state.nats = (
            NatsConnection(settings.nats_url, settings.service_name) if settings.event_transport == "nats" else None
        )

        def background() -> list[Coroutine[Any, Any, None]]:
            coroutines = [c for worker in workers for c in worker(app)]
            if nats is not None:
                coroutines.append(relay_outbox(nats, settings, app.state.sessionmaker, infra, app.state.outbox_signal))
            return coroutines

        # read-only gauges: every replica refreshes its own, outside the workers' lease
        interval = settings.outbox_metrics_interval_seconds
        tasks: list[asyncio.Task[None]] = [
            asyncio.create_task(outbox_metrics.run(app.state.read_sessionmaker, infra, interval))
        ]
        if workers or nats is not None:
            lease = hold_lease(
                settings.database_url,
                f"{settings.service_name}-workers",
                background,
                check_seconds=settings.lease_check_seconds,
            )
            tasks.append(asyncio.create_task(lease, name=f"{settings.service_name}-workers"))
        logger.info(
            "started",
            extra={
                "database": engine.url.render_as_string(hide_password=True),
                "event_transport": settings.event_transport,
            },
        )
        if settings.is_sqlite:
            logger.info("SQLite database: single replica only (background workers take no lease)")
        try:
            yield
        finally:
            restore_signals()
            await stop_background(tasks)
            if nats is not None:
                await nats.close()
            await engine.dispose()
            await read_engine.dispose()
            if spans is not None:
                await asyncio.to_thread(spans.shutdown)

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        dependencies=[Depends(reject_unknown_query)],
    )
    install_contract(app)
    app.state.settings = settings
    app.state.infra = infra
    app.state.metadata = metadata
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    app.state.consumer_metrics = ConsumerMetrics(registry)
    outbox_metrics = OutboxMetrics(registry)
    spans = tracing.span_export(settings.service_name)
    install_error_handlers(app)
    _install_database_error_handlers(app)

    app.include_router(health_router())
    app.include_router(feed_router(infra.outbox, settings.feed_max_wait_seconds))
    app.include_router(dead_letter_router(infra, dict(dead_letter_retries or {}), registry))
    for router in routers:
        app.include_router(router)

    # Outermost first in the request's path: context → body limit → auth → control characters →
    # idempotency → app.
    app.add_middleware(
        IdempotencyMiddleware, table=infra.idempotency, ttl=timedelta(hours=settings.idempotency_ttl_hours)
    )
    app.add_middleware(ControlCharacterMiddleware)
    app.add_middleware(
        InternalAuthMiddleware, secret=settings.internal_secret.get_secret_value(), public_paths=PUBLIC_PATHS
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, overrides=body_limits)
    app.add_middleware(
        RequestContextMiddleware, metrics=HttpMetrics(registry), spans=spans, trust_forwarded_prefix=True
    )
    return app


def _install_database_error_handlers(app: FastAPI) -> None:
    """Last-resort mapping of database errors that a client's request can provoke."""

    async def integrity(request: Request, exc: Exception) -> Response:
        logger.warning("integrity error", extra={"error": str(exc)[:500]})
        return problem_response(
            409, "conflict", "the change conflicts with existing data", instance=public_path(request)
        )

    async def operational(request: Request, exc: Exception) -> Response:
        logger.error("database unavailable", extra={"error": str(exc)[:500]})
        return problem_response(
            503,
            "database_unavailable",
            "the database is busy or unreachable; retry shortly",
            instance=public_path(request),
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    async def stale(request: Request, exc: Exception) -> Response:
        return problem_response(
            412,
            "precondition_failed",
            "the resource changed while this request ran; read it again and retry",
            instance=public_path(request),
        )

    async def other(request: Request, exc: Exception) -> Response:
        if not lost_a_race(exc):
            return await unexpected_error(request, exc)
        logger.warning("transaction lost a race; the client is asked to retry", extra={"error": str(exc)[:500]})
        return problem_response(*BUSY, instance=public_path(request), headers={"Retry-After": "1"})

    app.add_exception_handler(DBAPIError, other)
    app.add_exception_handler(StaleDataError, stale)
    app.add_exception_handler(IntegrityError, integrity)
    app.add_exception_handler(OperationalError, operational)
