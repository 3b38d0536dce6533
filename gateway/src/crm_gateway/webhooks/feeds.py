"""The gateway follows each service's events for webhooks: one consumer per service.

Cursors and applied event ids live in the gateway's infrastructure tables under the names
`webhooks-customer`, `webhooks-scoring` and `webhooks-feedback`. Over the feed transport they read
through the gateway's pooled client for that service; over NATS through durable JetStream
consumers `gateway-webhooks-<service>`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import httpx

from crm_chassis.consumer import ConsumerMetrics, EventConsumer, Handler, HttpFeedSource
from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.transport import Feed, NatsConnection, follow
from crm_gateway.config import Settings
from crm_gateway.db import Sessionmaker, infra
from crm_gateway.webhooks import service as webhook_service
from crm_gateway.webhooks.catalogue import EVENT_TYPES
from crm_gateway.webhooks.runtime import WebhookRuntime

CONSUMER_PREFIX = "webhooks-"


def handlers(settings: Settings, runtime: WebhookRuntime) -> dict[str, Mapping[str, Handler]]:
    """Each consumer's handlers: only the public types (anything else is passed over, its cursor moved)."""
    handler = webhook_service.fan_out_handler(runtime.clock, settings.webhook_retry_window_seconds)
    return {CONSUMER_PREFIX + service: dict.fromkeys(types, handler) for service, types in EVENT_TYPES.items()}


def _token(settings: Settings) -> Callable[[], str]:
    principal = Principal.service(settings.service_name)
    secret = settings.internal_secret.get_secret_value()
    return lambda: sign_internal_token(principal, secret, settings.internal_token_ttl_seconds)


def consumers(
    sessionmaker: Sessionmaker,
    settings: Settings,
    clients: Mapping[str, httpx.AsyncClient],
    runtime: WebhookRuntime,
    *,
    metrics: ConsumerMetrics | None = None,
) -> list[EventConsumer]:
    """A consumer per service over the HTTP feeds, reading through the gateway's pooled clients."""
    token = _token(settings)
    urls = settings.upstream_urls()
    return [
        EventConsumer(
            name=name,
            source=HttpFeedSource(
                clients[name.removeprefix(CONSUMER_PREFIX)],
                urls[name.removeprefix(CONSUMER_PREFIX)],
                token,
                types=by_type.keys(),
            ),
            sessionmaker=sessionmaker,
            tables=infra,
            handlers=by_type,
            wait=settings.webhook_feed_wait_seconds,
            max_attempts=settings.dead_letter_after_attempts,
            metrics=metrics,
            linger=settings.consumer_linger_seconds,
        )
        for name, by_type in handlers(settings, runtime).items()
    ]


def followers(
    sessionmaker: Sessionmaker,
    settings: Settings,
    clients: Mapping[str, httpx.AsyncClient],
    runtime: WebhookRuntime,
    *,
    nats: NatsConnection | None,
    metrics: ConsumerMetrics | None = None,
) -> list[Coroutine[Any, Any, None]]:
    """What the gateway runs: the consumers above, or their JetStream counterparts."""
    if settings.event_transport == "feed":
        return [c.run() for c in consumers(sessionmaker, settings, clients, runtime, metrics=metrics)]
    urls = settings.upstream_urls()
    return [
        follow(
            settings=settings,
            nats=nats,
            sessionmaker=sessionmaker,
            tables=infra,
            name=name,
            feed=Feed(name.removeprefix(CONSUMER_PREFIX), urls[name.removeprefix(CONSUMER_PREFIX)]),
            handlers=by_type,
            wait=settings.webhook_feed_wait_seconds,
            metrics=metrics,
        )
        for name, by_type in handlers(settings, runtime).items()
    ]
