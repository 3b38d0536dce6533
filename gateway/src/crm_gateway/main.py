"""The gateway application: the only public door of the CRM.

Start it with `uvicorn --factory crm_gateway.main:create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from prometheus_client import CollectorRegistry
from starlette.middleware.cors import CORSMiddleware

from crm_chassis import tracing
from crm_chassis.consumer import ConsumerMetrics
from crm_chassis.controls import ControlCharacterMiddleware
from crm_chassis.db import create_engine, create_read_engine, create_sessionmaker
from crm_chassis.errors import install_error_handlers
from crm_chassis.events import OutboxSignal
from crm_chassis.lease import hold_lease
from crm_chassis.lifecycle import on_terminate
from crm_chassis.logging import configure_logging
from crm_chassis.middleware import BodyLimitMiddleware, HttpMetrics, RequestContextMiddleware
from crm_chassis.openapi import install_contract, operation_id
from crm_chassis.query import reject_unknown_query
from crm_chassis.transport import NatsConnection, relay_outbox
from crm_gateway import idempotency
from crm_gateway.api_keys import router as api_keys_api
from crm_gateway.audit import router as audit_api
from crm_gateway.audit.access import AccessMiddleware
from crm_gateway.audit.addresses import parse_networks
from crm_gateway.audit.log import AuditLog, dropped_counter
from crm_gateway.auth import router as auth_api
from crm_gateway.auth.cache import AuthCache
from crm_gateway.auth.ratelimit import rate_limiter
from crm_gateway.composite import router as composite_api
from crm_gateway.config import Settings
from crm_gateway.db import SCHEMA, ensure_sqlite_directory, infra
from crm_gateway.docs import router as docs_api
from crm_gateway.health import router as health_api
from crm_gateway.meta import router as meta_api
from crm_gateway.operations import router as operations_api
from crm_gateway.proxy import router as proxy_api
from crm_gateway.proxy.breaker import CircuitBreaker
from crm_gateway.proxy.signing import InternalTokens
from crm_gateway.proxy.upstream import BreakerStates, UpstreamMetrics, build_clients, close_clients
from crm_gateway.users import feed as user_feed
from crm_gateway.users import router as users_api
from crm_gateway.users import service as user_service
from crm_gateway.webhooks import feeds as webhook_feeds
from crm_gateway.webhooks import router as webhooks_api
from crm_gateway.webhooks.dispatcher import Dispatcher, WebhookMetrics
from crm_gateway.webhooks.runtime import WebhookRuntime

logger = logging.getLogger("crm.gateway")
# What a browser's page sends and reads across origins: credentials, conditional and idempotent
# writes, and the headers that carry versions, locations, limits and the request's id.
CORS_REQUEST_HEADERS = (
    "Authorization",
    "X-API-Key",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
)
CORS_RESPONSE_HEADERS = (
    "ETag",
    "Location",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
)


def create_app(
    settings: Settings | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    webhook_runtime: WebhookRuntime | None = None,
) -> FastAPI:
    """Build the gateway. `transports` stands in for the network to named upstreams, and
    `webhook_runtime` for the clock, DNS and network of webhook deliveries (tests)."""
    settings = settings or Settings()
    settings.refuse_known_secrets()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        ensure_sqlite_directory(settings.database_url)
        engine = create_engine(settings.database_url, SCHEMA, pool_size=settings.database_pool_size)
        app.state.engine = engine
        # Outbox writes (user events) wake the long-polls of /internal/events at once, and so does
        # SIGTERM, so that a waiting poll does not outlast the graceful period.
        app.state.outbox_signal = OutboxSignal()
        draining = app.state.draining = asyncio.Event()
        restore_signals = on_terminate(draining.set)
        app.state.sessionmaker = create_sessionmaker(engine, outbox_signal=app.state.outbox_signal)
        read_engine = create_read_engine(settings.database_url, SCHEMA, engine)
        app.state.read_sessionmaker = create_sessionmaker(read_engine)
        app.state.upstreams = build_clients(settings, transports, breakers=breakers)
        app.state.fresh_upstreams = build_clients(settings, transports, fresh=True)
        app.state.feed_upstreams = build_clients(settings, transports, breaker=False)
        app.state.audit = audit = AuditLog(
            app.state.sessionmaker,
            audit_dropped,
            batch_size=settings.audit_batch_size,
            queue_size=settings.audit_queue_size,
            interval=settings.audit_flush_interval_seconds,
        )
        audit_writer = asyncio.create_task(audit.run(), name="audit-writer")
        app.state.webhook_dispatcher = dispatcher = Dispatcher(
            app.state.sessionmaker, settings, runtime, metrics=webhook_metrics
        )
        nats = app.state.nats = (
            NatsConnection(settings.nats_url, settings.service_name) if settings.event_transport == "nats" else None
        )
        workers = [_background(app, dispatcher, nats)] if settings.webhook_workers or nats is not None else []
        if settings.is_sqlite:
            logger.info("SQLite database: single replica only (background workers take no lease)")
        try:
            await user_service.ensure_bootstrap_admin(app.state.sessionmaker, settings)
            limits_store = "redis" if settings.redis_url else "memory"
            logger.info("started", extra={"upstreams": settings.upstream_urls(), "rate_limits": limits_store})
            if settings.workers > 1 and not settings.redis_url:
                logger.warning(
                    "each of the %d workers counts rate limits on its own; set CRM_REDIS_URL to share them",
                    settings.workers,
                )
            yield
        finally:
            restore_signals()
            for task in [audit_writer, *workers]:
                task.cancel()
            for task in [audit_writer, *workers]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await dispatcher.aclose()
            if nats is not None:
                await nats.close()
            try:
                await audit.flush()
            except Exception:
                logger.exception("audit entries lost at shutdown")
            await close_clients(app.state.upstreams)
            await app.state.rate_limits.aclose()
            await close_clients(app.state.fresh_upstreams)
            await close_clients(app.state.feed_upstreams)
            await engine.dispose()
            await read_engine.dispose()
            if spans is not None:
                await asyncio.to_thread(spans.shutdown)

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
        generate_unique_id_function=operation_id,
        # Its own routes refuse parameters they do not know; the proxy leaves that to the services.
        dependencies=[Depends(reject_unknown_query)],
    )
    install_contract(app)
    app.state.settings = settings
    app.state.webhook_runtime = runtime = webhook_runtime or WebhookRuntime()
    app.state.openapi_cache = None
    app.state.auth_cache = AuthCache(settings.auth_cache_seconds)
    app.state.internal_tokens = InternalTokens(
        settings.internal_secret.get_secret_value(), settings.internal_token_ttl_seconds
    )
    app.state.rate_limits = rate_limiter(settings.redis_url, settings.rate_limit_key_prefix)
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    app.state.upstream_metrics = UpstreamMetrics(registry)
    app.state.consumer_metrics = ConsumerMetrics(registry)
    breakers: dict[str, CircuitBreaker] = {}
    registry.register(BreakerStates(breakers))
    webhook_metrics = WebhookMetrics(registry)
    spans = tracing.span_export(settings.service_name)
    audit_dropped = dropped_counter(registry)
    install_error_handlers(app)

    own_routers = [
        health_api.router,
        auth_api.router,
        users_api.router,
        user_feed.router(settings),
        api_keys_api.router,
        audit_api.router,
        webhooks_api.router,
        operations_api.router,
        composite_api.router,
        meta_api.router,
        docs_api.router,
    ]
    for own_router in own_routers:
        app.include_router(own_router)
    docs_api.mount_assets(app)
    app.include_router(proxy_api.router)  # last: it catches every other /api/v1 path
    # ...which is found without walking the routes before it, when none of them could match.
    proxy_api.route_first(app, own_routers)

    # Outermost first in a request's path: request id and metrics → address, rate-limit headers
    # and audit → body limit → control characters → Idempotency-Key of the gateway's own POSTs → routes.
    idempotency.install(app, settings)
    app.add_middleware(ControlCharacterMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        overrides=settings.body_limits(),
    )
    app.add_middleware(AccessMiddleware, trusted_proxies=parse_networks(settings.trusted_proxies))
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(registry), spans=spans)
    if settings.cors_origins:
        # Outermost, so that refusals (401, 413, 429) carry the headers too and a browser can read them.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_RESPONSE_HEADERS),
            max_age=600,
        )
    return app


def _background(app: FastAPI, dispatcher: Dispatcher, nats: NatsConnection | None) -> asyncio.Task[None]:
    """In the one replica holding the gateway's lease: the followers that queue webhook deliveries
    and the dispatcher that sends them, and with the NATS transport the relay of the gateway's
    outbox (user events) to its stream."""
    settings: Settings = app.state.settings

    def work() -> list[Coroutine[Any, Any, None]]:
        coroutines: list[Coroutine[Any, Any, None]] = []
        if settings.webhook_workers:
            coroutines += webhook_feeds.followers(
                app.state.sessionmaker,
                settings,
                app.state.feed_upstreams,
                app.state.webhook_runtime,
                nats=nats,
                metrics=app.state.consumer_metrics,
            )
            coroutines.append(dispatcher.run())
        if nats is not None:
            coroutines.append(relay_outbox(nats, settings, app.state.sessionmaker, infra, app.state.outbox_signal))
        return coroutines

    lease = hold_lease(settings.database_url, "gateway-workers", work, check_seconds=settings.lease_check_seconds)
    return asyncio.create_task(lease, name="gateway-workers")
