"""Which way events travel, chosen by `CRM_EVENT_TRANSPORT`: the producers' feeds or NATS JetStream.

`feed` (the default): consumers long-poll each producer's `GET /internal/events`.

`nats`: each producer relays its outbox to its own stream (`CRM_<SERVICE>`, subjects
`crm.<service>.<event type>`, the event id as `Nats-Msg-Id`), and each consumer reads through a
durable JetStream consumer named `<consuming service>-<consumer name>`. The exactly-once effect is
the same on both: `EventConsumer` deduplicates by event id in the transaction that applies the
event, and JetStream messages are acknowledged only after that transaction committed.

Either way the consumer's cursor is the producer's outbox seq, so a system can switch transports
without replaying or skipping anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis import tracing
from crm_chassis.consumer import ConsumerMetrics, EventConsumer, EventSource, Handler, HttpFeedSource, Prepare
from crm_chassis.consumer_lag import LagReportingSource
from crm_chassis.events import OutboxSignal
from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.nats import (
    JetStreamSource,
    OutboxRelay,
    connect_nats,
    default_stream_name,
    default_subject_prefix,
    ensure_stream,
    subjects_for,
)
from crm_chassis.settings import ServiceSettings
from crm_chassis.tables import InfraTables

logger = logging.getLogger("crm.transport")


class NatsConnection:
    """One NATS connection per process, opened on first use and kept for the process's life."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._lock = asyncio.Lock()
        self._nc: NATS | None = None

    async def jetstream(self) -> JetStreamContext:
        async with self._lock:
            if self._nc is None:
                self._nc = await connect_nats(self.url, name=self.name)
                logger.info("nats connected", extra={"connection": self.name})
            return self._nc.jetstream()

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            await nc.close()


def stream_name(namespace: str, producer: str) -> str:
    """`CRM_CUSTOMER` for the default namespace `crm`."""
    return default_stream_name(producer).replace("CRM", namespace.upper(), 1)


def subject_prefix(namespace: str, producer: str) -> str:
    """`crm.customer` for the default namespace `crm`."""
    return default_subject_prefix(producer).replace("crm", namespace, 1)


async def ensure_producer_stream(js: JetStreamContext, namespace: str, producer: str) -> str:
    """The producer's stream, created if missing (by whichever side comes first); its name."""
    stream = stream_name(namespace, producer)
    await ensure_stream(js, stream, subjects_for(subject_prefix(namespace, producer)))
    return stream


async def relay_outbox(
    nats: NatsConnection,
    settings: ServiceSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    tables: InfraTables,
    signal: OutboxSignal,
) -> None:
    """Relay this service's outbox to its JetStream stream until cancelled."""
    js = await nats.jetstream()
    service = settings.service_name
    namespace = settings.nats_namespace
    stream = await ensure_producer_stream(js, namespace, service)
    relay = OutboxRelay(
        f"{service}-{namespace}", sessionmaker, tables, js, subject_prefix(namespace, service), stream, signal=signal
    )
    await relay.run()


@dataclass(frozen=True)
class Feed:
    """One producer a consumer follows: by name for JetStream, by URL for the HTTP feed."""

    producer: str
    base_url: str
    client: httpx.AsyncClient | None = None  # a pooled client to reuse for the HTTP feed


async def follow(
    *,
    settings: ServiceSettings,
    nats: NatsConnection | None,
    sessionmaker: async_sessionmaker[AsyncSession],
    tables: InfraTables,
    name: str,
    feed: Feed,
    handlers: Mapping[str, Handler],
    wait: float,
    metrics: ConsumerMetrics | None = None,
    token: Callable[[], str] | None = None,
    prepare: Prepare | None = None,
) -> None:
    """Follow one producer's events over the configured transport until cancelled.

    The events its handlers publish are spooled and written just before each batch commits: a batch
    holds row locks on what it changes, and taking the outbox ordering lock at the first event
    would let it wait for a row an API request holds while that request waits for the ordering lock
    (a deadlock PostgreSQL settles by failing one of them)."""
    if token is None:
        principal = Principal.service(settings.service_name)
        secret = settings.internal_secret.get_secret_value()

        def token() -> str:
            return sign_internal_token(principal, secret, settings.internal_token_ttl_seconds)

    own_client: httpx.AsyncClient | None = None
    jetstream: JetStreamSource | None = None
    source: EventSource
    try:
        if settings.event_transport == "nats":
            assert nats is not None, "the nats transport needs a NatsConnection"
            js = await nats.jetstream()
            stream = await ensure_producer_stream(js, settings.nats_namespace, feed.producer)
            jetstream = JetStreamSource(
                js,
                stream,
                f"{subject_prefix(settings.nats_namespace, feed.producer)}.>",
                durable=f"{settings.service_name}-{name}",
                ack_wait=settings.nats_ack_wait_seconds,
            )
            source = LagReportingSource(jetstream, name)
        else:
            client = feed.client
            if client is None:
                client = own_client = httpx.AsyncClient(trust_env=False, event_hooks={"request": [tracing.inject]})
            source = LagReportingSource(HttpFeedSource(client, feed.base_url, token, types=handlers.keys()), name)
        consumer = EventConsumer(
            name=name,
            source=source,
            sessionmaker=sessionmaker,
            tables=tables,
            handlers=handlers,
            wait=wait,
            max_attempts=settings.dead_letter_after_attempts,
            metrics=metrics,
            spool_events=True,
            prepare=prepare,
            linger=settings.consumer_linger_seconds,
        )
        await consumer.run()
    finally:
        if jetstream is not None:
            await jetstream.close()
        if own_client is not None:
            await own_client.aclose()
