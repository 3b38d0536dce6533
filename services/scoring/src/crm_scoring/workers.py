"""Background work of the scoring service: following the customer service's event feed."""

from __future__ import annotations

from collections.abc import Coroutine, Iterable
from typing import Any

from fastapi import FastAPI

from crm_chassis.consumer import follow_http_feed
from crm_scoring.config import Settings
from crm_scoring.db import infra
from crm_scoring.readmodel.handlers import HANDLERS


def consumers(app: FastAPI) -> Iterable[Coroutine[Any, Any, None]]:
    settings: Settings = app.state.settings
    if not settings.consume_events:
        return []
    follow_customers = follow_http_feed(
        sessionmaker=app.state.sessionmaker,
        tables=infra,
        name="customer-events",
        base_url=settings.customer_url,
        handlers=HANDLERS,
        service=settings.service_name,
        secret=settings.internal_secret.get_secret_value(),
        wait=settings.feed_wait_seconds,
    )
    return [follow_customers]
