"""The consumer loop: apply another service's events exactly once, cursor kept in our own schema.

Each batch is applied in one transaction together with the cursor move and the ids of the events
it applied, so a crash anywhere leaves either all of a batch or none of it. An event delivered
again (a retry, a second replica, a second transport) is skipped by its id.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import httpx
import nats.errors
from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.db import utcnow
from crm_chassis.events import Event
from crm_chassis.identity import INTERNAL_HEADER, Principal, sign_internal_token
from crm_chassis.tables import InfraTables

logger = logging.getLogger("crm.consumer")

Handler = Callable[[AsyncSession, Event], Awaitable[None]]
MAX_ATTEMPTS = 5


class EventSource(Protocol):
    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]: ...


class HttpFeedSource:
    """Reads the producer's `/internal/events` long-poll feed."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, token: Callable[[], str]) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.token = token

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        response = await self.client.get(
            f"{self.base_url}/internal/events",
            params={"after": after, "limit": limit, "wait": wait},
            headers={INTERNAL_HEADER: self.token()},
            timeout=httpx.Timeout(wait + 10, connect=5),
        )
        response.raise_for_status()
        return [Event.model_validate(item) for item in response.json()["items"]]


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        source: EventSource,
        sessionmaker: async_sessionmaker[AsyncSession],
        tables: InfraTables,
        handlers: Mapping[str, Handler],
        batch_size: int = 200,
        wait: float = 20.0,
    ) -> None:
        self.name = name
        self.source = source
        self.sessionmaker = sessionmaker
        self.tables = tables
        self.handlers = handlers
        self.batch_size = batch_size
        self.wait = wait
        self._failures: dict[Any, int] = {}
        self.last_fetched = 0

    async def cursor(self) -> int:
        async with self.sessionmaker() as session:
            value = await session.scalar(
                select(self.tables.consumer_cursor.c.last_seq).where(
                    self.tables.consumer_cursor.c.consumer == self.name
                )
            )
            return int(value or 0)

    async def poll_once(self, wait: float | None = None) -> int:
        """Fetch one batch after our cursor and apply it; the number of events applied."""
        events = await self.source.fetch(await self.cursor(), self.batch_size, self.wait if wait is None else wait)
        self.last_fetched = len(events)
        if not events:
            return 0
        try:
            return await self._apply(events)
        except Exception:
            if len(events) == 1:
                raise
            logger.warning("batch failed, applying one by one", extra={"consumer": self.name}, exc_info=True)
            applied = 0
            for event in events:
                applied += await self._apply([event])
            return applied

    async def _apply(self, events: list[Event]) -> int:
        cursor_t, consumed_t = self.tables.consumer_cursor, self.tables.consumed_event
        applied = 0
        async with self.sessionmaker.begin() as session:
            current = await session.scalar(
                select(cursor_t.c.last_seq).where(cursor_t.c.consumer == self.name).with_for_update()
            )
            if current is None:
                await session.execute(insert(cursor_t).values(consumer=self.name, last_seq=0, updated_at=utcnow()))
                current = 0
            ids = [e.id for e in events]
            seen = set(
                (
                    await session.scalars(
                        select(consumed_t.c.event_id).where(
                            consumed_t.c.consumer == self.name, consumed_t.c.event_id.in_(ids)
                        )
                    )
                ).all()
            )
            last = current
            for event in events:
                if event.seq <= current or event.id in seen:
                    continue
                handler = self.handlers.get(event.type)
                if handler is not None:
                    await self._handle(session, handler, event)
                    applied += 1
                await session.execute(
                    insert(consumed_t).values(consumer=self.name, event_id=event.id, consumed_at=utcnow())
                )
                seen.add(event.id)
                last = max(last, event.seq)
            if last != current:
                await session.execute(
                    update(cursor_t).where(cursor_t.c.consumer == self.name).values(last_seq=last, updated_at=utcnow())
                )
        return applied

    async def _handle(self, session: AsyncSession, handler: Handler, event: Event) -> None:
        try:
            async with session.begin_nested():
                await handler(session, event)
        except Exception as exc:
            attempts = self._failures.get(event.id, 0) + 1
            self._failures[event.id] = attempts
            if attempts < MAX_ATTEMPTS:
                raise
            # A poison event must not stop the stream: park it for an operator and move on.
            logger.error("event parked in dead_letter", extra={"consumer": self.name, "event_id": str(event.id)})
            await session.execute(
                insert(self.tables.dead_letter).values(
                    consumer=self.name,
                    event_id=event.id,
                    event=event.model_dump(mode="json"),
                    error=repr(exc)[:2000],
                    failed_at=utcnow(),
                )
            )
            self._failures.pop(event.id, None)

    async def run(self) -> None:
        """Poll until cancelled, backing off (with jitter) while the producer or database is down."""
        delay = 0.5
        while True:
            try:
                started = asyncio.get_running_loop().time()
                await self.poll_once()
                if not self.last_fetched and asyncio.get_running_loop().time() - started < 0.05:
                    # The feed answered at once with nothing (it does not long-poll): do not spin.
                    await asyncio.sleep(0.2)
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, nats.errors.Error, SQLAlchemyError, OSError, ValueError) as exc:
                logger.warning(
                    "consumer poll failed",
                    extra={"consumer": self.name, "error": repr(exc), "retry_in": delay},
                )
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
                delay = min(delay * 2, 30.0)
            except Exception:
                logger.exception("consumer handler failed", extra={"consumer": self.name})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


async def follow_http_feed(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    tables: InfraTables,
    name: str,
    base_url: str,
    handlers: Mapping[str, Handler],
    service: str,
    secret: str,
    wait: float,
) -> None:
    """Follow a producer's `/internal/events` feed until cancelled, signing calls as `service`."""
    principal = Principal.service(service)
    async with httpx.AsyncClient(trust_env=False) as client:
        source = HttpFeedSource(client, base_url, lambda: sign_internal_token(principal, secret))
        consumer = EventConsumer(
            name=name, source=source, sessionmaker=sessionmaker, tables=tables, handlers=handlers, wait=wait
        )
        await consumer.run()
