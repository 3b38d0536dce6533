"""The gateway application: the only public door of the CRM.

Start it with `uvicorn --factory crm_gateway.main:create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from crm_chassis.db import create_engine, create_read_engine, create_sessionmaker
from crm_chassis.errors import install_error_handlers
from crm_chassis.logging import configure_logging
from crm_chassis.middleware import BodyLimitMiddleware, HttpMetrics, RequestContextMiddleware
from crm_gateway import api_keys_api, audit_api, auth, composite, docs, health, openapi, proxy, users_api
from crm_gateway import service as user_service
from crm_gateway.access import AccessMiddleware
from crm_gateway.addresses import parse_networks
from crm_gateway.audit import AuditLog, dropped_counter
from crm_gateway.config import Settings
from crm_gateway.db import SCHEMA, ensure_sqlite_directory, infra
from crm_gateway.idempotency import GatewayIdempotencyMiddleware, fingerprint_key
from crm_gateway.ratelimit import TokenBuckets
from crm_gateway.upstream import UpstreamMetrics, build_clients, close_clients
from crm_gateway.webhooks import feeds as webhook_feeds
from crm_gateway.webhooks import router as webhooks_api
from crm_gateway.webhooks.dispatcher import Dispatcher
from crm_gateway.webhooks.runtime import WebhookRuntime

logger = logging.getLogger("crm.gateway")


def create_app(
    settings: Settings | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    webhook_runtime: WebhookRuntime | None = None,
) -> FastAPI:
    """Build the gateway. `transports` stands in for the network to named upstreams, and
    `webhook_runtime` for the clock, DNS and network of webhook deliveries (tests)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        ensure_sqlite_directory(settings.database_url)
        engine = create_engine(settings.database_url, SCHEMA, pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        read_engine = create_read_engine(settings.database_url, SCHEMA, engine)
        app.state.read_sessionmaker = create_sessionmaker(read_engine)
        app.state.upstreams = build_clients(settings, transports)
        app.state.audit = audit = AuditLog(
            app.state.sessionmaker,
            audit_dropped,
            batch_size=settings.audit_batch_size,
            queue_size=settings.audit_queue_size,
            interval=settings.audit_flush_interval_seconds,
        )
        audit_writer = asyncio.create_task(audit.run(), name="audit-writer")
        app.state.webhook_dispatcher = dispatcher = Dispatcher(app.state.sessionmaker, settings, runtime)
        workers = _webhook_workers(app, dispatcher) if settings.webhook_workers else []
        try:
            await user_service.ensure_bootstrap_admin(app.state.sessionmaker, settings)
            logger.info("started", extra={"upstreams": settings.upstream_urls()})
            yield
        finally:
            for task in [audit_writer, *workers]:
                task.cancel()
            for task in [audit_writer, *workers]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await dispatcher.aclose()
            try:
                await audit.flush()
            except Exception:
                logger.exception("audit entries lost at shutdown")
            await close_clients(app.state.upstreams)
            await engine.dispose()
            await read_engine.dispose()

    app = FastAPI(
        title="CRM API",
        description="Customers, scoring and feedback behind one door. Sign in at `POST /api/v1/auth/token`.",
        version="1.0.0",
        lifespan=lifespan,
        # The gateway serves its own merged document and a docs page with local assets instead.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.webhook_runtime = runtime = webhook_runtime or WebhookRuntime()
    app.state.openapi_cache = None
    app.state.rate_limits = TokenBuckets()
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    app.state.upstream_metrics = UpstreamMetrics(registry)
    audit_dropped = dropped_counter(registry)
    install_error_handlers(app)

    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(users_api.router)
    app.include_router(api_keys_api.router)
    app.include_router(audit_api.router)
    app.include_router(webhooks_api.router)
    app.include_router(composite.router)
    app.include_router(openapi.router)
    app.include_router(docs.router)
    docs.mount_assets(app)
    app.include_router(proxy.router)  # last: it catches every other /api/v1 path

    # Outermost first in a request's path: request id and metrics → address, rate-limit headers
    # and audit → body limit → Idempotency-Key of the gateway's own POSTs → routes.
    app.add_middleware(
        GatewayIdempotencyMiddleware,
        table=infra.idempotency,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        key=fingerprint_key(settings.jwt_secret.get_secret_value()),
    )
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        overrides={settings.import_path_prefix: settings.import_max_body_bytes},
    )
    app.add_middleware(AccessMiddleware, trusted_proxies=parse_networks(settings.trusted_proxies))
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(registry))
    return app


def _webhook_workers(app: FastAPI, dispatcher: Dispatcher) -> list[asyncio.Task[None]]:
    """The feed followers that queue webhook deliveries, and the dispatcher that sends them."""
    consumers = webhook_feeds.consumers(
        app.state.sessionmaker, app.state.settings, app.state.upstreams, app.state.webhook_runtime
    )
    tasks = [asyncio.create_task(consumer.run(), name=consumer.name) for consumer in consumers]
    tasks.append(asyncio.create_task(dispatcher.run(), name="webhook-dispatcher"))
    return tasks
