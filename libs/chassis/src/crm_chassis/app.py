"""`create_service_app`: one FastAPI application with every piece of the chassis wired in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.schema import MetaData

from crm_chassis.db import create_engine, create_read_engine, create_sessionmaker
from crm_chassis.errors import install_error_handlers, problem_response
from crm_chassis.events import OutboxSignal
from crm_chassis.feed import feed_router
from crm_chassis.idempotency import IdempotencyMiddleware
from crm_chassis.logging import configure_logging
from crm_chassis.middleware import (
    BodyLimitMiddleware,
    HttpMetrics,
    InternalAuthMiddleware,
    RequestContextMiddleware,
)
from crm_chassis.settings import ServiceSettings
from crm_chassis.tables import InfraTables

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
        return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return router


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
) -> FastAPI:
    workers = list(workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        engine = create_engine(settings.database_url, schema, pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.outbox_signal = OutboxSignal()
        app.state.sessionmaker = create_sessionmaker(engine, outbox_signal=app.state.outbox_signal)
        pool_size = settings.database_pool_size
        read_engine = create_read_engine(settings.database_url, schema, engine, pool_size=pool_size)
        app.state.read_sessionmaker = create_sessionmaker(read_engine)
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(c) for worker in workers for c in worker(app)]
        logger.info("started", extra={"database": engine.url.render_as_string(hide_password=True)})
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await engine.dispose()
            await read_engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.infra = infra
    app.state.metadata = metadata
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    install_error_handlers(app)
    _install_database_error_handlers(app)

    app.include_router(health_router())
    app.include_router(feed_router(infra.outbox, settings.feed_max_wait_seconds))
    for router in routers:
        app.include_router(router)

    # Outermost first in the request's path: context → body limit → auth → idempotency → app.
    app.add_middleware(
        IdempotencyMiddleware, table=infra.idempotency, ttl=timedelta(hours=settings.idempotency_ttl_hours)
    )
    app.add_middleware(
        InternalAuthMiddleware, secret=settings.internal_secret.get_secret_value(), public_paths=PUBLIC_PATHS
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, overrides=body_limits)
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(registry))
    return app


def _install_database_error_handlers(app: FastAPI) -> None:
    """Last-resort mapping of database errors that a client's request can provoke."""

    async def integrity(request: Request, exc: Exception) -> Response:
        logger.warning("integrity error", extra={"error": str(exc)[:500]})
        return problem_response(409, "conflict", "the change conflicts with existing data", instance=request.url.path)

    async def operational(request: Request, exc: Exception) -> Response:
        logger.error("database unavailable", extra={"error": str(exc)[:500]})
        return problem_response(
            503,
            "database_unavailable",
            "the database is busy or unreachable; retry shortly",
            instance=request.url.path,
            headers={"Retry-After": "2"},
        )

    async def stale(request: Request, exc: Exception) -> Response:
        return problem_response(
            412,
            "precondition_failed",
            "the resource changed while this request ran; read it again and retry",
            instance=request.url.path,
        )

    app.add_exception_handler(StaleDataError, stale)
    app.add_exception_handler(IntegrityError, integrity)
    app.add_exception_handler(OperationalError, operational)
