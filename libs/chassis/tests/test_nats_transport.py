"""Outbox → NATS JetStream → EventConsumer, against a real NATS server and real databases.

SQLite always; PostgreSQL as well when CRM_TEST_POSTGRES_URL is set (see `crm_chassis.testing`).
Set CRM_TEST_NATS_URL to use another server than nats://127.0.0.1:4222. Without a reachable
JetStream server the module is skipped, except on CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import Column, Integer, String, Table, delete, insert, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.consumer import EventConsumer
from crm_chassis.db import create_engine, create_sessionmaker, make_metadata
from crm_chassis.events import Event, record_event
from crm_chassis.nats import (
    MSG_ID_HEADER,
    JetStreamSource,
    OutboxRelay,
    connect_nats,
    default_stream_name,
    default_subject_prefix,
    ensure_stream,
    event_subject,
    subjects_for,
)
from crm_chassis.tables import infra_tables
from crm_chassis.testing import BACKENDS, scratch_database

NATS_URL = os.environ.get("CRM_TEST_NATS_URL", "nats://127.0.0.1:4222")
ON_CI = os.environ.get("CI") == "true"
ACK_WAIT = 1.0  # short, so a redelivery after a simulated crash comes within the test

metadata = make_metadata("relaytest")
infra = infra_tables(metadata)
effect = Table("effect", metadata, Column("key", String(50), primary_key=True), Column("count", Integer))


def _unavailable(reason: str) -> None:
    if ON_CI:
        pytest.fail(f"NATS JetStream is required on CI: {reason}", pytrace=False)
    pytest.skip(f"NATS JetStream not available: {reason}", allow_module_level=True)


def _reachable(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=1).close()
    except OSError as exc:
        return f"{url} unreachable ({exc})"
    return None


# On CI the tests run and fail one by one (in the fixture) rather than abort the whole collection.
if not ON_CI and (_why := _reachable(NATS_URL)) is not None:
    _unavailable(_why)


@pytest.fixture
async def nc() -> AsyncIterator[NATS]:
    try:
        # nats-py retries even the first connect, forever unless the attempts are bounded.
        client = await asyncio.wait_for(
            nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=1, reconnect_time_wait=1), 10
        )
        await client.jetstream().account_info()
    except Exception as exc:  # any failure here means the environment, not the code under test
        _unavailable(repr(exc))
        raise
    yield client
    await client.close()


@dataclass
class Stream:
    name: str
    prefix: str


@pytest.fixture
async def stream(nc: NATS) -> AsyncIterator[Stream]:
    """A stream of its own for each test, deleted afterwards."""
    tag = uuid.uuid4().hex[:12]
    js = nc.jetstream()
    s = Stream(name=f"RELAYTEST_{tag.upper()}", prefix=f"relaytest.{tag}")
    await ensure_stream(js, s.name, subjects_for(s.prefix), duplicate_window=120)
    yield s
    await js.delete_stream(s.name)


@pytest.fixture(params=BACKENDS)
async def sessionmaker(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with scratch_database(request.param, tmp_path, "relay") as url:
        engine = create_engine(url, "relaytest")
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("CREATE SCHEMA relaytest"))
            await conn.run_sync(metadata.create_all)
        yield create_sessionmaker(engine)
        await engine.dispose()


async def record(sm: async_sessionmaker[AsyncSession], keys: list[str], *, commit: bool = True) -> list[uuid.UUID]:
    """Record one `thing.happened` event per key in a single transaction."""
    async with sm() as session:
        ids = [await record_event(session, infra.outbox, "thing.happened", key, {"key": key}) for key in keys]
        if commit:
            await session.commit()
        else:
            await session.rollback()
    return ids


async def count_effect(session: AsyncSession, event: Event) -> None:
    """Deliberately not idempotent: a second application would show as count 2."""
    key = event.data["key"]
    if await session.scalar(select(effect.c.count).where(effect.c.key == key)) is None:
        await session.execute(insert(effect).values(key=key, count=1))
    else:
        await session.execute(update(effect).where(effect.c.key == key).values(count=effect.c.count + 1))


async def effects(sm: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sm() as session:
        return {key: count for key, count in await session.execute(select(effect.c.key, effect.c.count))}


def relay(js: JetStreamContext, sm: async_sessionmaker[AsyncSession], s: Stream, name: str = "nats") -> OutboxRelay:
    return OutboxRelay(name, sm, infra, js, s.prefix, s.name, batch_size=4)


def source(js: JetStreamContext, s: Stream, durable: str = "consumer") -> JetStreamSource:
    return JetStreamSource(js, s.name, f"{s.prefix}.>", durable, ack_wait=ACK_WAIT)


def consumer(
    src: JetStreamSource,
    sm: async_sessionmaker[AsyncSession],
    handler: Callable[[AsyncSession, Event], Awaitable[None]] = count_effect,
) -> EventConsumer:
    return EventConsumer(
        name="relaytest",
        source=src,
        sessionmaker=sm,
        tables=infra,
        handlers={"thing.happened": handler},
        batch_size=3,
        wait=0.2,
    )


async def relay_all(r: OutboxRelay) -> int:
    total = 0
    while n := await r.relay_once():
        total += n
    return total


async def stream_events(js: JetStreamContext, s: Stream) -> list[tuple[str, dict[str, str], Event]]:
    """Everything stored in the stream, in stream order: subject, headers, event."""
    state = (await js.stream_info(s.name)).state
    out = []
    for seq in range(state.first_seq, state.last_seq + 1):
        msg = await js.get_msg(s.name, seq)
        assert msg.subject is not None and msg.data is not None
        out.append((msg.subject, dict(msg.headers or {}), Event.model_validate_json(msg.data)))
    return out


async def until(check: Callable[[], Awaitable[bool]], step: Callable[[], Awaitable[object]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await step()


async def test_committed_events_are_published_once_each_in_seq_order(
    nc: NATS, stream: Stream, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    js = nc.jetstream()
    first = await record(sessionmaker, ["a", "b", "c"])
    second = await record(sessionmaker, ["d", "e", "f", "g"])
    r = relay(js, sessionmaker, stream)

    assert await relay_all(r) == 7
    assert await r.relay_once() == 0

    stored = await stream_events(js, stream)
    assert [event.id for _, _, event in stored] == first + second
    seqs = [event.seq for _, _, event in stored]
    assert seqs == sorted(seqs) and len(set(seqs)) == 7
    assert {subject for subject, _, _ in stored} == {event_subject(stream.prefix, "thing.happened")}
    assert all(headers[MSG_ID_HEADER] == str(event.id) for _, headers, event in stored)
    assert await r.cursor() == seqs[-1]
    assert r.duplicates == 0


async def test_rolled_back_transaction_publishes_nothing(
    nc: NATS, stream: Stream, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    js = nc.jetstream()
    r = relay(js, sessionmaker, stream)
    await record(sessionmaker, ["never"], commit=False)
    assert await r.relay_once() == 0
    kept = await record(sessionmaker, ["kept"])
    assert await r.relay_once() == 1
    assert [event.id for _, _, event in await stream_events(js, stream)] == kept


async def test_restarted_relay_resumes_at_its_cursor_and_a_republish_is_deduplicated(
    nc: NATS, stream: Stream, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    js = nc.jetstream()
    await record(sessionmaker, ["a", "b", "c"])
    assert await relay_all(relay(js, sessionmaker, stream)) == 3

    restarted = relay(js, sessionmaker, stream)
    assert await restarted.relay_once() == 0
    await record(sessionmaker, ["d", "e"])
    assert await relay_all(restarted) == 2
    assert (await js.stream_info(stream.name)).state.messages == 5

    # A crash between the publish acks and the cursor commit: the relay publishes it all again.
    async with sessionmaker.begin() as session:
        await session.execute(delete(infra.relay_cursor))
    forced = relay(js, sessionmaker, stream)
    assert await relay_all(forced) == 5
    assert forced.duplicates == 5
    assert (await js.stream_info(stream.name)).state.messages == 5
    assert await forced.cursor() == await restarted.cursor()


async def test_run_relays_until_cancelled(
    nc: NATS, stream: Stream, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    js = nc.jetstream()
    r = relay(js, sessionmaker, stream)
    task = asyncio.create_task(r.run())
    try:
        await record(sessionmaker, ["a", "b", "c", "d", "e", "f"])  # more than one batch
        r.notify()

        async def all_published() -> bool:
            return (await js.stream_info(stream.name)).state.messages == 6

        await until(all_published, lambda: asyncio.sleep(0.05), timeout=5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_consumer_applies_each_event_once_over_jetstream(
    nc: NATS, stream: Stream, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    js = nc.jetstream()
    keys = [f"k{i}" for i in range(8)]
    ids = await record(sessionmaker, keys)
    await relay_all(relay(js, sessionmaker, stream))
    src = source(js, stream)
    c = consumer(src, sessionmaker)

    async def all_applied() -> bool:
        return len(await effects(sessionmaker)) == len(keys)

    await until(all_applied, c.poll_once, timeout=10)
    assert await effects(sessionmaker) == dict.fromkeys(keys, 1)
    assert await c.poll_once() == 0  # acknowledges the last batch, finds nothing new

    info = await (await src.subscribe()).consumer_info()
    assert info.num_ack_pending == 0 and info.num_pending == 0
    async with sessionmaker() as session:
        consumed = set(await session.scalars(select(infra.consumed_event.c.event_id)))
    assert consumed == set(ids)
    await src.close()


class Recording:
    """The source as the consumer sees it: every batch `fetch` hands out is kept for the test to check."""

    def __init__(self, inner: JetStreamSource) -> None:
        self.inner = inner
        self.batches: list[list[Event]] = []

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        events = await self.inner.fetch(after, limit, wait)
        if events:
            self.batches.append(events)
        return events


async def test_redelivery_after_a_crash_is_not_applied_again(
    nc: NATS, stream: Stream, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    js = nc.jetstream()
    keys = ["a", "b", "c"]
    await record(sessionmaker, keys)
    await relay_all(relay(js, sessionmaker, stream))

    crashed = source(js, stream)
    assert await consumer(crashed, sessionmaker).poll_once() == 3  # committed, never acknowledged
    assert crashed.held == 3
    await crashed.close()  # the process is gone; its messages stay unacknowledged

    await asyncio.sleep(ACK_WAIT + 0.2)
    fresh = source(js, stream)
    seen = Recording(fresh)
    c = consumer(fresh, sessionmaker)
    c.source = seen
    assert await c.poll_once(wait=2) == 0  # the same three messages again, skipped
    assert [[e.data["key"] for e in batch] for batch in seen.batches] == [keys]
    info = await (await fresh.subscribe()).consumer_info()
    assert info.num_redelivered == 3

    assert await c.poll_once() == 0  # acknowledges them
    assert fresh.held == 0
    info = await (await fresh.subscribe()).consumer_info()
    assert info.num_ack_pending == 0
    assert await effects(sessionmaker) == dict.fromkeys(keys, 1)
    await fresh.close()


async def test_crash_before_commit_loses_nothing_when_newer_events_overtake(
    nc: NATS, stream: Stream, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    js = nc.jetstream()
    r = relay(js, sessionmaker, stream)
    await record(sessionmaker, ["a", "b", "c"])
    await relay_all(r)

    class Killed(BaseException):
        """Like the process dying: not an Exception, so nothing on the way catches it."""

    async def dies(session: AsyncSession, event: Event) -> None:
        await count_effect(session, event)
        raise Killed

    crashed = source(js, stream)
    with pytest.raises(Killed):
        await consumer(crashed, sessionmaker, dies).poll_once()
    await crashed.close()
    assert await effects(sessionmaker) == {}

    # Newer events reach the stream while a, b, c are still locked to the dead reader: JetStream
    # delivers d, e, f first, and the consumer must not commit them before a, b, c.
    await record(sessionmaker, ["d", "e", "f"])
    await relay_all(r)
    fresh = source(js, stream)
    c = consumer(fresh, sessionmaker)

    async def all_applied() -> bool:
        return len(await effects(sessionmaker)) == 6

    await until(all_applied, c.poll_once, timeout=10)
    assert await effects(sessionmaker) == dict.fromkeys("abcdef", 1)
    await fresh.close()


async def test_a_failed_batch_is_offered_again_not_acknowledged(
    nc: NATS, stream: Stream, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    js = nc.jetstream()
    await record(sessionmaker, ["a", "b", "c"])
    await relay_all(relay(js, sessionmaker, stream))
    failures = {"b": 1}  # the database fails under "b" once: the whole batch rolls back

    async def flaky(session: AsyncSession, event: Event) -> None:
        if failures.get(event.data["key"], 0) > 0:
            failures[event.data["key"]] -= 1
            raise OperationalError("INSERT", {}, ConnectionResetError("transient"))
        await count_effect(session, event)

    src = source(js, stream)
    c = consumer(src, sessionmaker, flaky)
    with pytest.raises(OperationalError):
        await c.poll_once()  # "a" applied, "b" failed: nothing committed, nothing acknowledged
    assert await effects(sessionmaker) == {}

    assert await c.poll_once() == 3
    assert await c.poll_once() == 0
    assert await effects(sessionmaker) == {"a": 1, "b": 1, "c": 1}
    info = await (await src.subscribe()).consumer_info()
    assert info.num_ack_pending == 0
    await src.close()


async def test_connect_nats_and_naming_conventions(nc: NATS) -> None:
    client = await asyncio.wait_for(connect_nats(NATS_URL, name="relaytest"), 10)
    try:
        assert (await client.jetstream().account_info()).limits is not None
    finally:
        await client.close()
    assert default_stream_name("customer") == "CRM_CUSTOMER"
    assert default_subject_prefix("customer") == "crm.customer"
    assert event_subject("crm.customer", "customer.created") == "crm.customer.customer.created"
    assert subjects_for("crm.customer") == ["crm.customer.>"]
    with pytest.raises(ValueError):
        event_subject("crm.customer", "customer.*")


async def test_consumer_lag_counts_what_jetstream_has_not_delivered_or_seen_acknowledged(
    nc: NATS, stream: Stream, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    from prometheus_client import REGISTRY

    from crm_chassis.consumer_lag import LagReportingSource

    js = nc.jetstream()
    keys = [f"k{i}" for i in range(7)]
    await record(sessionmaker, keys)
    await relay_all(relay(js, sessionmaker, stream))
    src = source(js, stream, durable=f"lag-{uuid.uuid4().hex[:8]}")
    name = f"lagtest-{uuid.uuid4().hex[:8]}"
    lagging = LagReportingSource(src, name)

    def lag() -> float | None:
        return REGISTRY.get_sample_value("crm_consumer_lag_events", {"consumer": name})

    first = await lagging.fetch(0, 3, 0.5)
    assert len(first) == 3
    assert lag() == 7  # three handed out, not yet acknowledged, and four never delivered
    rest = await lagging.fetch(first[-1].seq, 10, 0.5)  # the first three acknowledged
    assert len(rest) == 4 and lag() == 4
    assert await lagging.fetch(rest[-1].seq, 10, 0.2) == [] and lag() == 0
    await src.close()
