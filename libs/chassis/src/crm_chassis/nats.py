"""The event transport at scale: outbox rows relayed to NATS JetStream and read back by durable consumers.

Producer side: `OutboxRelay` publishes the rows of a service's outbox, in seq order, to
`<subject_prefix>.<event type>` with the event id as `Nats-Msg-Id`, and keeps its position in the
`relay_cursor` table. The cursor moves only after JetStream has acknowledged the publish, so a crash
in between publishes again, and the stream's duplicate window drops the second copy.

Consumer side: `JetStreamSource` is an `EventSource` for the ordinary `EventConsumer`: same events,
same handlers, same exactly-once bookkeeping as the HTTP feed; which one a service uses is a matter
of configuration.

`EventConsumer` skips any event whose seq is not above its cursor, so a source must never hand it an
event after a later one from the same producer has been committed. A durable JetStream consumer
would do exactly that after a crash: the messages the dead process held stay unacknowledged until
their ack wait runs out, while newer ones go straight to the next subscriber. The source therefore
hands out a batch only when every message the server counts as delivered-but-unacknowledged is in
its own hands, and acknowledges a message only once the consumer's cursor, passed back to it as
`after` on the next fetch, shows it committed.

Run one reader per durable consumer (one replica, or one durable per replica); two processes
sharing a durable would each wait for the other's messages.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import nats
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.db import upsert, utcnow
from crm_chassis.events import Event, OutboxSignal
from crm_chassis.tables import InfraTables

logger = logging.getLogger("crm.nats")

MSG_ID_HEADER = "Nats-Msg-Id"
DEFAULT_DUPLICATE_WINDOW_SECONDS = 120.0
# nats-py rejects a zero fetch timeout; a poll "without waiting" still needs one round trip.
MIN_FETCH_WAIT_SECONDS = 0.1
# Upper bound for topping up a batch once its first message is in: messages already in the stream
# arrive at once, so this only matters when the server's count was stale.
TOP_UP_WAIT_SECONDS = 1.0
_INVALID_SUBJECT_CHARS = frozenset(" \t\r\n*>")


async def connect_nats(url: str, *, name: str) -> NATS:
    """Connect to NATS for a long-running service.

    nats-py gives up after 60 reconnect attempts (about two minutes) and closes the connection for
    good, which would leave a relay or consumer failing until the process restarts; here it retries
    for as long as the process lives. That includes the first connect: while NATS is down this does
    not return, so a service that must serve HTTP meanwhile connects from a background task.
    """

    client: NATS | None = None

    async def _disconnected() -> None:
        # Our own close (a shutdown) disconnects too; only a lost connection is worth a warning.
        closing = client is not None and client.is_closed
        logger.log(logging.INFO if closing else logging.WARNING, "nats disconnected", extra={"connection": name})

    async def _reconnected() -> None:
        logger.info("nats reconnected", extra={"connection": name})

    async def _error(exc: Exception) -> None:
        logger.warning("nats error", extra={"connection": name, "error": repr(exc)})

    client = await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        error_cb=_error,
    )
    return client


def default_stream_name(service: str) -> str:
    """The stream a service's events go to, e.g. `CRM_CUSTOMER` for `customer`."""
    return "CRM_" + service.upper().replace("-", "_").replace(".", "_")


def default_subject_prefix(service: str) -> str:
    """The subject prefix of a service's events, e.g. `crm.customer` for `customer`."""
    return f"crm.{service}"


def event_subject(subject_prefix: str, event_type: str) -> str:
    """The subject an event type is published to: `crm.customer` + `customer.created`."""
    subject = f"{subject_prefix}.{event_type}"
    # Wildcards, blanks and empty tokens cannot be published to; failing here names the event type.
    if any(c in _INVALID_SUBJECT_CHARS for c in subject) or "" in subject.split("."):
        raise ValueError(f"not a valid NATS subject for publishing: {subject!r}")
    return subject


def subjects_for(subject_prefix: str, event_types: Iterable[str] | None = None) -> list[str]:
    """Subjects to bind a stream to or filter a consumer by: all of a producer's events by default."""
    if event_types is None:
        return [f"{subject_prefix}.>"]
    return [event_subject(subject_prefix, t) for t in event_types]


async def ensure_stream(
    js: JetStreamContext,
    stream: str,
    subjects: Sequence[str],
    *,
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW_SECONDS,
    max_age: float | None = None,
    max_bytes: int | None = None,
    num_replicas: int = 1,
) -> api.StreamInfo:
    """Create the stream, or bring an existing one to this configuration.

    File storage and limits retention: messages stay for every durable consumer to read at its own
    pace, whoever has read them. `duplicate_window` (seconds) is how long a republished event id is
    recognised and dropped; the relay republishes only after a crash, so minutes are plenty.
    `max_age`/`max_bytes` (unlimited by default) discard the oldest events, including ones a slow
    consumer has not read yet.
    """
    config = api.StreamConfig(
        name=stream,
        subjects=list(subjects),
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        discard=api.DiscardPolicy.OLD,
        duplicate_window=duplicate_window,
        max_age=max_age,
        max_bytes=max_bytes,
        num_replicas=num_replicas,
    )
    try:
        await js.stream_info(stream)
    except NotFoundError:
        return await js.add_stream(config)
    return await js.update_stream(config)


class OutboxRelay:
    """Publishes a service's outbox rows to JetStream in seq order, at least once.

    One relay name per outbox; its cursor row in `relay_cursor` is the seq up to which JetStream has
    acknowledged. Two relays with the same name are safe but wasteful: both publish, the duplicate
    window drops the second copies, and the cursor only ever moves forward.
    """

    def __init__(
        self,
        name: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        tables: InfraTables,
        js: JetStreamContext,
        subject_prefix: str,
        stream: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        publish_timeout: float = 5.0,
        signal: OutboxSignal | None = None,
    ) -> None:
        self.name = name
        self.sessionmaker = sessionmaker
        self.tables = tables
        self.js = js
        self.subject_prefix = subject_prefix
        self.stream = stream
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        # Sharing the service's OutboxSignal wakes the relay as soon as an outbox row commits.
        self.signal = signal if signal is not None else OutboxSignal()
        self.published = 0
        self.duplicates = 0

    def notify(self) -> None:
        """Wake `run()` now instead of at its next poll."""
        self.signal.notify()

    async def cursor(self) -> int:
        """The seq of the last event JetStream has acknowledged for this relay."""
        async with self.sessionmaker() as session:
            return await self._cursor(session)

    async def _cursor(self, session: AsyncSession) -> int:
        cursor_t = self.tables.relay_cursor
        value = await session.scalar(select(cursor_t.c.last_seq).where(cursor_t.c.relay == self.name))
        return int(value or 0)

    async def relay_once(self) -> int:
        """Publish one batch of outbox rows after the cursor; the number JetStream acknowledged."""
        outbox = self.tables.outbox
        async with self.sessionmaker() as session:
            start = await self._cursor(session)
            rows = (
                await session.execute(
                    select(outbox).where(outbox.c.seq > start).order_by(outbox.c.seq).limit(self.batch_size)
                )
            ).mappings()
            events = [Event.model_validate(dict(row)) for row in rows]
        if not events:
            return 0
        acked = start
        count = 0
        try:
            # One at a time, each awaited: with publishes in flight together, one failing while a
            # later one succeeds would put the later event into the stream first, and consumers
            # would then skip the earlier one as already behind their cursor.
            for event in events:
                ack = await self.js.publish(
                    event_subject(self.subject_prefix, event.type),
                    event.model_dump_json().encode(),
                    timeout=self.publish_timeout,
                    stream=self.stream,
                    headers={MSG_ID_HEADER: str(event.id)},
                )
                if ack.duplicate:
                    self.duplicates += 1
                acked = event.seq
                count += 1
        finally:
            # Whatever got acknowledged before a failure need not be published again.
            if acked > start:
                await self._advance(acked)
                self.published += count
        return count

    async def _advance(self, seq: int) -> None:
        cursor_t = self.tables.relay_cursor
        values = {"relay": self.name, "last_seq": seq, "updated_at": utcnow()}
        async with self.sessionmaker.begin() as session:
            stmt = upsert(session, cursor_t).values(values)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[cursor_t.c.relay],
                    set_={"last_seq": stmt.excluded.last_seq, "updated_at": stmt.excluded.updated_at},
                    where=cursor_t.c.last_seq < stmt.excluded.last_seq,
                )
            )

    async def run(self) -> None:
        """Relay until cancelled: at once while there is a backlog, else on notify or every poll interval.

        Errors (NATS or the database unreachable, a row that cannot be published) are logged and
        retried with backoff.
        """
        delay = 0.5
        while True:
            try:
                count = await self.relay_once()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except (nats.errors.Error, SQLAlchemyError, OSError) as exc:
                logger.warning("outbox relay failed", extra={"relay": self.name, "error": repr(exc), "retry_in": delay})
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
                delay = min(delay * 2, 30.0)
                continue
            except Exception:
                # A row that cannot be published (say, an event type that is no valid subject) must
                # not end the task silently; it is retried, loudly, until someone fixes it.
                logger.exception("outbox relay failed", extra={"relay": self.name, "retry_in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if count < self.batch_size:
                await self.signal.wait(self.poll_interval)


@dataclass
class _Delivery:
    event: Event
    msg: Msg


class JetStreamSource:
    """An `EventSource` reading a durable JetStream pull consumer.

    `fetch(after, limit, wait)` takes its position from JetStream, not from `after`; `after` (the
    consumer's committed cursor) tells it which of the messages it handed out were committed, and
    only those are acknowledged, at the start of that next fetch. Messages handed out but not
    committed (a handler failed) are handed out again, before anything newer. A message redelivered
    after a crash reaches `EventConsumer` again and is skipped there by its seq or id.

    The durable consumer is created on first use if missing (explicit acks, every message of the
    stream matching `subject_filter`, unlimited redeliveries); an existing one keeps its
    configuration. `ack_wait` is how long a crashed reader's messages stay locked before they are
    redelivered; it must exceed the time a batch takes to apply.
    """

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        subject_filter: str,
        durable: str,
        *,
        ack_wait: float = 30.0,
        max_ack_pending: int = 1000,
        ack_timeout: float = 5.0,
    ) -> None:
        self.js = js
        self.stream = stream
        self.subject_filter = subject_filter
        self.durable = durable
        self.ack_wait = ack_wait
        self.max_ack_pending = max_ack_pending
        self.ack_timeout = ack_timeout
        self.rejected = 0
        self._sub: JetStreamContext.PullSubscription | None = None
        self._held: dict[int, _Delivery] = {}  # by stream sequence
        self._complete = False
        self._behind: int | None = None  # as of the last fetch: not yet delivered, or not yet acked

    def consumer_config(self) -> api.ConsumerConfig:
        """The configuration the durable consumer is created with."""
        return api.ConsumerConfig(
            durable_name=self.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_ack_pending=self.max_ack_pending,
            max_deliver=-1,  # an event must never be dropped for having been retried too often
            filter_subject=self.subject_filter,
        )

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        """Bind to the durable consumer, creating it if missing; `fetch` does this on first use."""
        if self._sub is None:
            self._sub = await self.js.pull_subscribe(
                self.subject_filter, durable=self.durable, stream=self.stream, config=self.consumer_config()
            )
        return self._sub

    async def close(self) -> None:
        """Stop reading; unacknowledged messages are redelivered to the next reader after `ack_wait`."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            self._held.clear()
            self._complete = False
            await sub.unsubscribe()

    def behind(self, after: int) -> int | None:
        """The consumer's lag as JetStream counts it at the last fetch: messages not yet delivered
        and those delivered but not acknowledged (`after` is implied by the acknowledgements)."""
        return self._behind

    @property
    def held(self) -> int:
        """How many messages are handed out or waiting, not yet acknowledged."""
        return len(self._held)

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        """Acknowledge what the cursor shows committed, then the next batch in seq order ([] if none)."""
        await self.ack_pending(after)
        if self._held and self._complete:
            # The consumer failed on these: offer them again and keep their ack deadline from passing.
            for delivery in self._held.values():
                await delivery.msg.in_progress()
            return self._batch(limit)
        sub = await self.subscribe()
        for msg in await self._pull(sub, limit, wait):
            await self._hold(msg)
        info = await sub.consumer_info()
        self._behind = (info.num_pending or 0) + (info.num_ack_pending or 0)
        if not self._held:
            return []
        self._complete = (info.num_ack_pending or 0) <= len(self._held)
        if not self._complete:
            # Someone else holds older messages (a crashed process, a lost connection): wait for them
            # to come back after their ack wait rather than let newer ones overtake them.
            logger.info(
                "waiting for unacknowledged messages to be redelivered",
                extra={
                    "durable": self.durable,
                    "held": len(self._held),
                    "ack_pending": info.num_ack_pending,
                },
            )
            return []
        return self._batch(limit)

    async def ack_pending(self, after: int | None = None) -> int:
        """Acknowledge held messages whose event seq is at most `after` (all of them if None).

        Call it with None only once every event handed out has been committed. The last ack waits
        for the server's confirmation, so the next pull and its pending count already see them all.
        """
        done = sorted(
            (s for s, d in self._held.items() if after is None or d.event.seq <= after),
        )
        if not done:
            return 0
        *rest, last = (self._held[s].msg for s in done)
        for msg in rest:
            if not msg.is_acked:
                await msg.ack()
        if not last.is_acked:
            await last.ack_sync(timeout=self.ack_timeout)
        for s in done:
            del self._held[s]
        return len(done)

    def _batch(self, limit: int) -> list[Event]:
        deliveries = sorted(self._held.items(), key=lambda item: (item[1].event.seq, item[0]))
        return [d.event for _, d in deliveries[:limit]]

    async def _pull(self, sub: JetStreamContext.PullSubscription, limit: int, wait: float) -> list[Msg]:
        # A pull for N messages lingers until all N came or the wait is over, which would delay a
        # lone new event by the whole long-poll; so wait for one, then take what is already there.
        try:
            first = await sub.fetch(1, timeout=max(wait, MIN_FETCH_WAIT_SECONDS))
        except nats.errors.TimeoutError:
            return []
        meta = first[0].metadata
        # Redeliveries are not counted in num_pending, so after one, ask for a full batch.
        more = limit - 1 if meta.num_delivered > 1 else min(limit - 1, meta.num_pending)
        if more <= 0:
            return first
        try:
            rest = await sub.fetch(more, timeout=max(min(wait, TOP_UP_WAIT_SECONDS), MIN_FETCH_WAIT_SECONDS))
        except nats.errors.TimeoutError:
            rest = []
        return first + rest

    async def _hold(self, msg: Msg) -> None:
        try:
            event = Event.model_validate_json(msg.data)
        except ValidationError as exc:
            # Undecodable, it can never be applied; redelivering it forever would stop the stream.
            # It stays in the stream (limits retention) for an operator to look at.
            self.rejected += 1
            logger.error(
                "message is not an event, terminated",
                extra={
                    "durable": self.durable,
                    "subject": msg.subject,
                    "stream_seq": msg.metadata.sequence.stream,
                    "error": repr(exc)[:2000],
                },
            )
            await msg.term()
            return
        # A redelivery of a message already held replaces it: the newest delivery is the one to ack.
        self._held[msg.metadata.sequence.stream] = _Delivery(event, msg)
