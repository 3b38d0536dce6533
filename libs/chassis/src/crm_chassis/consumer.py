"""The consumer loop: apply another service's events exactly once, cursor kept in our own schema.

Each batch is applied in one transaction together with the cursor move and the ids of the events
it applied, so a crash anywhere leaves either all of a batch or none of it. An event delivered
again (a retry, a second replica, a second transport) is skipped by its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from typing import Any, Protocol

import httpx
import nats.errors
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import insert, select, update
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.schema import Table

from crm_chassis.db import lost_a_race, utcnow
from crm_chassis.events import Event, OutboxSignal, OutboxSpool, spool_outbox
from crm_chassis.feed import POLL_FALLBACK_SECONDS, read_events
from crm_chassis.identity import INTERNAL_HEADER
from crm_chassis.tables import InfraTables

logger = logging.getLogger("crm.consumer")

Handler = Callable[[AsyncSession, Event], Awaitable[None]]
# Reads a batch's data for its handlers at once (for example every customer it names); the result
# is at `session.info[PREPARED]` while the batch is applied in one go, and absent when the events are
# applied one by one after a failure, where each handler reads what it needs itself.
Prepare = Callable[[AsyncSession, list[Event]], Awaitable[Any]]
PREPARED = "consumer_prepared"
MAX_ATTEMPTS = 3


class EventSource(Protocol):
    """Where a consumer's events come from. A source that skips events no handler wants may also
    offer `scanned_to`: after a fetch, the newest seq it passed over (the cursor may move there)."""

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]: ...


class HttpFeedSource:
    """Reads the producer's `/internal/events` long-poll feed."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        token: Callable[[], str],
        types: Collection[str] | None = None,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.token = token
        # Only these event types are asked for (the consumer's handlers'): the producer neither
        # serialises nor sends the rest, and the consumer opens no transaction for them.
        self.types = ",".join(sorted(types)) if types is not None else None
        self.head: int | None = None  # the producer's newest seq, as of the last answer
        self.scanned_to: int | None = None

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        params: dict[str, str | int | float] = {"after": after, "limit": limit, "wait": wait}
        if self.types is not None:
            params["types"] = self.types
        response = await self.client.get(
            f"{self.base_url}/internal/events",
            params=params,
            headers={INTERNAL_HEADER: self.token()},
            timeout=httpx.Timeout(wait + 10, connect=5),
        )
        response.raise_for_status()
        page = response.json()
        self.head = page.get("head_seq")
        self.scanned_to = page.get("last_seq") if self.types is not None else None
        return [Event.model_validate(item) for item in page["items"]]

    def behind(self, after: int) -> int | None:
        return None if self.head is None else self.head - after


# Failures that say nothing about the event: the database or the network. The batch is retried
# later, whole, and no attempt is counted against any event.
TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, OSError, TimeoutError)


class OutboxSource:
    """A service's own outbox as an `EventSource`: for rules that follow the service's own events
    (in its own schema, so no transport is involved), with the same exactly-once bookkeeping."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], outbox: Table, signal: OutboxSignal) -> None:
        self.sessionmaker = sessionmaker
        self.outbox = outbox
        self.signal = signal

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            events = await read_events(self.sessionmaker, self.outbox, after, limit)
            remaining = deadline - asyncio.get_running_loop().time()
            if events or remaining <= 0:
                return events
            await self.signal.wait(min(remaining, POLL_FALLBACK_SECONDS))


class ConsumerMetrics:
    """Counters of every consumer in one process, on the service's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.applied = Counter(
            "crm_consumer_events_applied", "Events a consumer applied, by consumer", ["consumer"], registry=registry
        )
        self.dead_lettered = Counter(
            "crm_dead_letters",
            "Items parked in dead_letter after failing every attempt, by consumer or worker",
            ["consumer"],
            registry=registry,
        )


class _Failed(Exception):
    """Events failed in their own right (not the database or network, not a lost race); their
    savepoint was rolled back and the events they spooled with it."""

    def __init__(self, error: Exception) -> None:
        super().__init__(repr(error))
        self.error = error


@contextlib.asynccontextmanager
async def _undone_on_failure(session: AsyncSession) -> AsyncIterator[None]:
    """A savepoint for handlers; their own failure is raised as `_Failed`, anything else as it is."""
    spool: OutboxSpool | None = session.info.get("outbox_spool")
    mark = spool.mark() if spool is not None else None
    try:
        async with session.begin_nested():
            yield
    except TRANSIENT:
        raise
    except Exception as exc:
        if lost_a_race(exc):
            raise  # a deadlock is no fault of the events: the whole batch is tried again
        if spool is not None and mark is not None:
            spool.rewind(mark)  # the savepoint's events are undone with its rows
        raise _Failed(exc) from exc


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
        max_attempts: int = MAX_ATTEMPTS,
        retry_pause: float = 0.1,
        metrics: ConsumerMetrics | None = None,
        spool_events: bool = False,
        prepare: Prepare | None = None,
        linger: float = 0.0,
    ) -> None:
        self.name = name
        self.source = source
        self.sessionmaker = sessionmaker
        self.tables = tables
        self.handlers = handlers
        self.batch_size = batch_size
        self.wait = wait
        self.max_attempts = max_attempts
        self.retry_pause = retry_pause
        self.metrics = metrics
        # The events the handlers publish wait in a spool and are written at the batch's end, so
        # that the batch holds the outbox ordering lock, which every other writer needs, only for
        # that last step instead of from its first event on (an import's chunks queued behind it).
        # Only for handlers that publish through `record_event`/`record_events` alone.
        self.spool_events = spool_events
        self.prepare = prepare
        # After a batch that was not full, wait this long before the next fetch, so that events
        # arriving one by one are applied a few at a time (one transaction and one fetch for them).
        self.linger = linger
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
        after = await self.cursor()
        events = await self.source.fetch(after, self.batch_size, self.wait if wait is None else wait)
        self.last_fetched = len(events)
        scanned: int | None = getattr(self.source, "scanned_to", None)
        if not events and (scanned is None or scanned <= after):
            return 0
        # Applied to the end even when the task is cancelled meanwhile (a shutdown): the batch
        # commits, or rolls back whole, before the cancellation goes on.
        apply = asyncio.ensure_future(self._apply(events, through=scanned))
        try:
            return await asyncio.shield(apply)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await apply
            raise

    async def _apply(self, events: list[Event], through: int | None = None) -> int:
        """Apply the events not applied yet and move the cursor past them, or to `through` (the
        newest seq the source passed over) when that is further."""
        cursor_t, consumed_t = self.tables.consumer_cursor, self.tables.consumed_event
        applied = 0
        spool: OutboxSpool | None = None
        try:
            async with self.sessionmaker.begin() as session:
                spool = spool_outbox(session) if self.spool_events else None
                current = await session.scalar(
                    select(cursor_t.c.last_seq).where(cursor_t.c.consumer == self.name).with_for_update()
                )
                if current is None:
                    await session.execute(insert(cursor_t).values(consumer=self.name, last_seq=0, updated_at=utcnow()))
                    current = 0
                ids = [e.id for e in events]
                seen = (
                    set(
                        (
                            await session.scalars(
                                select(consumed_t.c.event_id).where(
                                    consumed_t.c.consumer == self.name, consumed_t.c.event_id.in_(ids)
                                )
                            )
                        ).all()
                    )
                    if ids
                    else set()
                )
                fresh: list[Event] = []
                for event in events:
                    if event.seq > current and event.id not in seen:
                        fresh.append(event)
                        seen.add(event.id)
                now = utcnow()
                if fresh:
                    applied = await self._apply_all(session, fresh)
                    await session.execute(
                        insert(consumed_t),
                        [{"consumer": self.name, "event_id": e.id, "consumed_at": now} for e in fresh],
                    )
                # past the applied events, or further: to what the source passed over
                last_seq = max(current, through or 0, *(e.seq for e in fresh))
                if last_seq > current:
                    await session.execute(
                        update(cursor_t)
                        .where(cursor_t.c.consumer == self.name)
                        .values(last_seq=last_seq, updated_at=now)
                    )
                if spool is not None:
                    await spool.flush(session, self.tables.outbox)
        finally:
            if spool is not None:
                spool.discard()  # flushed, or the batch failed and its events with it
        if applied and self.metrics is not None:
            self.metrics.applied.labels(self.name).inc(applied)
        return applied

    async def _apply_all(self, session: AsyncSession, events: list[Event]) -> int:
        """The batch's events in one savepoint; if one of them fails, again one savepoint each.

        Most batches fail nowhere, and a savepoint per event costs two round trips each. A failure
        rolls the batch's savepoint back (its spooled events with it) and applies the events one by
        one, each with its attempts, so that only the failing one is parked.
        """
        failing: Event | None = None
        try:
            async with _undone_on_failure(session):
                if self.prepare is not None:
                    session.info[PREPARED] = await self.prepare(session, events)
                applied = 0
                for event in events:
                    handler = self.handlers.get(event.type)
                    if handler is not None:
                        failing = event
                        await handler(session, event)
                        applied += 1
                failing = None  # a failure from here on (the savepoint's release) is no one event's
            return applied
        except _Failed as failed:
            error = failed.error
            if failing is not None:
                self._failed(failing, 1, error)  # its first attempt
            else:
                logger.warning(
                    "batch failed before its events; applying them one by one",
                    extra={"consumer": self.name, "error": repr(error)[:500]},
                )
        finally:
            session.info.pop(PREPARED, None)  # what was read before a failure may be stale now
        applied = 0
        for event in events:
            handler = self.handlers.get(event.type)
            if handler is None:
                continue
            earlier = (1, error) if event is failing else (0, None)
            if await self._handle(session, handler, event, *earlier):
                applied += 1
        return applied

    def _failed(self, event: Event, attempt: int, error: Exception) -> None:
        logger.warning(
            "event handler failed",
            extra={"consumer": self.name, "event_id": str(event.id), "attempt": attempt, "error": repr(error)},
        )

    async def _handle(
        self, session: AsyncSession, handler: Handler, event: Event, tried: int = 0, error: Exception | None = None
    ) -> bool:
        """Apply one event in a savepoint; True if applied, False if parked after every attempt.

        A failure of the database or network is raised (the whole batch is retried later); any
        other failure is the event's own and is tried again at once, up to `max_attempts` times
        (`tried` of them already made, the last failing with `error`).
        """
        for attempt in range(tried + 1, self.max_attempts + 1):
            if attempt > 1:
                await asyncio.sleep(self.retry_pause * (attempt - 1))
            try:
                async with _undone_on_failure(session):
                    await handler(session, event)
                return True
            except _Failed as failed:
                error = failed.error
                self._failed(event, attempt, error)
        # A poison event must not stop the stream: park it for an operator and move on.
        assert error is not None
        await park(session, self.tables, self.name, event.id, event.model_dump(mode="json"), error, self.max_attempts)
        logger.error(
            "event parked in dead_letter",
            extra={"consumer": self.name, "event_id": str(event.id), "type": event.type, "error": repr(error)[:500]},
        )
        if self.metrics is not None:
            self.metrics.dead_lettered.labels(self.name).inc()
        return False

    async def pause(self, seconds: float) -> None:
        """The linger between a batch that was not full and the next fetch."""
        await asyncio.sleep(seconds)

    async def run(self) -> None:
        """Poll until cancelled, backing off (with jitter) while the producer or database is down.

        Quiet by design: while the producer is not up yet (at start), or during an outage, one line
        is logged when it begins and one when it ends, not one per attempt.
        """
        delay = 0.5
        following = False
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                started = loop.time()
                await self.poll_once()
                if not following or failing_since is not None:
                    logger.info(
                        "consumer following its feed" if not following else "consumer resumed",
                        extra={
                            "consumer": self.name,
                            "down_seconds": round(loop.time() - failing_since, 1) if failing_since else 0,
                        },
                    )
                following, failing_since = True, None
                if not self.last_fetched and loop.time() - started < 0.05:
                    # The feed answered at once with nothing (it does not long-poll): do not spin.
                    await asyncio.sleep(0.2)
                elif self.linger and 0 < self.last_fetched < self.batch_size:
                    await self.pause(self.linger)
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, nats.errors.Error, SQLAlchemyError, OSError, ValueError) as exc:
                if lost_a_race(exc):  # rolled back by a deadlock: the batch again, shortly, no outage
                    logger.info("consumer batch lost a race; trying it again", extra={"consumer": self.name})
                    await asyncio.sleep(0.05 + 0.2 * random.random())  # noqa: S311 - jitter, not security
                    continue
                if failing_since is None:
                    failing_since = loop.time()
                    logger.log(
                        logging.WARNING if following else logging.INFO,
                        "consumer feed unavailable, retrying quietly" if following else "consumer waiting for its feed",
                        extra={"consumer": self.name, "error": repr(exc)[:500]},
                    )
                else:
                    logger.debug("consumer poll failed", extra={"consumer": self.name, "error": repr(exc)})
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
                delay = min(delay * 2, 30.0 if following else 2.0)
            except Exception:
                logger.exception("consumer failed", extra={"consumer": self.name})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


async def park(
    session: AsyncSession,
    tables: InfraTables,
    consumer: str,
    item_id: uuid.UUID,
    item: dict[str, Any],
    error: BaseException,
    attempts: int,
) -> None:
    """Put an item a worker could not process into dead_letter (or count one more failure of it)."""
    dead = tables.dead_letter
    existing = await session.scalar(
        select(dead.c.attempts).where(dead.c.consumer == consumer, dead.c.event_id == item_id)
    )
    values = {"error": repr(error)[:2000], "failed_at": utcnow()}
    if existing is None:
        await session.execute(
            insert(dead).values(consumer=consumer, event_id=item_id, event=item, attempts=attempts, **values)
        )
    else:
        await session.execute(
            update(dead)
            .where(dead.c.consumer == consumer, dead.c.event_id == item_id)
            .values(attempts=dead.c.attempts + attempts, **values)
        )
