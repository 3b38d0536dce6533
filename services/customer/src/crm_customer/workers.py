"""Background work of the customer service: following the gateway's user events and the scoring
service's suggestions over the configured transport, and its own orders for the lifecycle rules."""

from __future__ import annotations

from collections.abc import Coroutine, Iterable
from typing import Any

from fastapi import FastAPI

from crm_chassis.consumer import EventConsumer, OutboxSource
from crm_chassis.transport import Feed, follow
from crm_customer.config import Settings
from crm_customer.db import infra
from crm_customer.lifecycle.handlers import (
    LIFECYCLE_CONSUMER,
    SCORE_HANDLERS,
    SCORING_CONSUMER,
    order_handlers,
    read_buyers,
    read_scored,
)
from crm_customer.users.handlers import USER_HANDLERS

GATEWAY_CONSUMER = "gateway-events"


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
    own = EventConsumer(
        name=LIFECYCLE_CONSUMER,
        source=OutboxSource(app.state.sessionmaker, infra.outbox, app.state.outbox_signal),
        sessionmaker=app.state.sessionmaker,
        tables=infra,
        handlers=order_handlers(settings.activity_window_days),
        wait=settings.feed_wait_seconds,
        max_attempts=settings.dead_letter_after_attempts,
        metrics=app.state.consumer_metrics,
        spool_events=True,  # its stage changes' events: it must not hold up imports and batches
        prepare=read_buyers,
        linger=settings.consumer_linger_seconds,
    )
    return [
        follow(name=GATEWAY_CONSUMER, feed=Feed("gateway", settings.gateway_url), handlers=USER_HANDLERS, **common),
        follow(
            name=SCORING_CONSUMER,
            feed=Feed("scoring", settings.scoring_url),
            handlers=SCORE_HANDLERS,
            prepare=read_scored,
            **common,
        ),
        own.run(),
    ]
