"""The gateway follows each service's event feed for webhooks: one consumer per service.

Cursors and applied event ids live in the gateway's infrastructure tables under the names
`webhooks-customer`, `webhooks-scoring` and `webhooks-feedback`.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.consumer import EventConsumer, HttpFeedSource
from crm_chassis.identity import Principal, sign_internal_token
from crm_gateway.config import Settings
from crm_gateway.db import infra
from crm_gateway.webhooks import service as webhook_service
from crm_gateway.webhooks.catalogue import EVENT_TYPES
from crm_gateway.webhooks.runtime import WebhookRuntime

CONSUMER_PREFIX = "webhooks-"


def consumers(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clients: Mapping[str, httpx.AsyncClient],
    runtime: WebhookRuntime,
) -> list[EventConsumer]:
    """A consumer per service, reading through the gateway's pooled client for that service."""
    principal = Principal.service(settings.service_name)
    secret = settings.internal_secret.get_secret_value()

    def token() -> str:
        return sign_internal_token(principal, secret, settings.internal_token_ttl_seconds)

    handler = webhook_service.fan_out_handler(runtime.clock, settings.webhook_retry_window_seconds)
    urls = settings.upstream_urls()
    return [
        EventConsumer(
            name=CONSUMER_PREFIX + service,
            source=HttpFeedSource(clients[service], urls[service], token),
            sessionmaker=sessionmaker,
            tables=infra,
            # Only the public types: anything else in a feed is passed over (and its cursor moved).
            handlers=dict.fromkeys(types, handler),
            wait=settings.webhook_feed_wait_seconds,
        )
        for service, types in EVENT_TYPES.items()
    ]
