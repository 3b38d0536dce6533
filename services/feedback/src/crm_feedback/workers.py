"""Background work of the feedback service: following the customer service's event feed."""

from __future__ import annotations

from collections.abc import Coroutine, Iterable
from typing import Any

import httpx
from fastapi import FastAPI

from crm_chassis.consumer import EventConsumer, HttpFeedSource
from crm_chassis.identity import Principal, sign_internal_token
from crm_feedback.config import Settings
from crm_feedback.db import infra
from crm_feedback.readmodel.handlers import HANDLERS


async def follow_customers(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    principal = Principal.service(settings.service_name)
    secret = settings.internal_secret.get_secret_value()
    async with httpx.AsyncClient(trust_env=False) as client:
        source = HttpFeedSource(client, settings.customer_url, lambda: sign_internal_token(principal, secret))
        consumer = EventConsumer(
            name="customer-events",
            source=source,
            sessionmaker=app.state.sessionmaker,
            tables=infra,
            handlers=HANDLERS,
            wait=settings.feed_wait_seconds,
        )
        app.state.customer_consumer = consumer
        await consumer.run()


def consumers(app: FastAPI) -> Iterable[Coroutine[Any, Any, None]]:
    settings: Settings = app.state.settings
    return [follow_customers(app)] if settings.consume_events else []
