"""The consumer applies every event exactly once: duplicates, retries and crashes included."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, String, Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.consumer import EventConsumer
from crm_chassis.db import create_engine, create_sessionmaker, make_metadata
from crm_chassis.events import Event
from crm_chassis.tables import InfraTables, infra_tables
from crm_chassis.testing import recorded_statements

metadata = make_metadata("consumertest")
infra = infra_tables(metadata)
effect = Table("effect", metadata, Column("key", String(50), primary_key=True), Column("count", Integer))


class ListSource:
    """Delivers a fixed list at least once: every fetch re-sends what follows `after`, plus `extra`."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.extra: list[Event] = []

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        return ([e for e in self.events if e.seq > after] + self.extra)[:limit]


def make_event(seq: int, key: str = "k") -> Event:
    return Event(
        id=uuid.uuid4(),
        seq=seq,
        type="thing.happened",
        occurred_at=datetime.now(UTC),
        aggregate_id=key,
        version=seq,
        data={"key": key},
    )


async def count_effect(session: AsyncSession, event: Event) -> None:
    """Deliberately not idempotent: a second application would show as count 2."""
    key = event.data["key"] + f"-{event.seq}"
    if await session.scalar(select(effect.c.count).where(effect.c.key == key)) is None:
        await session.execute(insert(effect).values(key=key, count=1))
    else:
        await session.execute(update(effect).where(effect.c.key == key).values(count=effect.c.count + 1))


@pytest.fixture
async def sessionmaker(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", "consumertest")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


def consumer(
    source: ListSource, sm: async_sessionmaker[AsyncSession], tables: InfraTables = infra, **kw: object
) -> EventConsumer:
    handlers = kw.pop("handlers", {"thing.happened": count_effect})
    return EventConsumer(
        name="test", source=source, sessionmaker=sm, tables=tables, handlers=handlers, batch_size=3, **kw
    )  # type: ignore[arg-type]


async def effects(sm: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sm() as session:
        return {row.key: row.count for row in await session.execute(select(effect))}


async def test_each_event_applied_once_even_when_delivered_twice(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    events = [make_event(i) for i in range(1, 8)]
    source = ListSource(events)
    c = consumer(source, sessionmaker)
    while await c.poll_once(wait=0):
        pass
    assert await c.cursor() == 7
    source.extra = events[:4]  # a redelivery of old events, e.g. from a second transport
    assert await c.poll_once(wait=0) == 0
    assert await effects(sessionmaker) == {f"k-{i}": 1 for i in range(1, 8)}


async def test_crash_before_commit_resumes_without_loss_or_duplicate(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    events = [make_event(i) for i in range(1, 7)]
    calls = 0

    class Killed(BaseException):
        """Like the process dying: not an Exception, so nothing on the way catches it."""

    async def dies_on_fifth(session: AsyncSession, event: Event) -> None:
        nonlocal calls
        calls += 1
        await count_effect(session, event)
        if calls == 5:
            raise Killed

    first = consumer(ListSource(events), sessionmaker, handlers={"thing.happened": dies_on_fifth})
    await first.poll_once(wait=0)  # events 1-3 committed with the cursor
    with pytest.raises(Killed):
        await first.poll_once(wait=0)  # applied 4 and 5, died before the commit
    assert await first.cursor() == 3
    assert await effects(sessionmaker) == {f"k-{i}": 1 for i in range(1, 4)}

    restarted = consumer(ListSource(events), sessionmaker)
    while await restarted.poll_once(wait=0):
        pass
    assert await effects(sessionmaker) == {f"k-{i}": 1 for i in range(1, 7)}
    assert await restarted.cursor() == 6


async def test_a_poison_event_is_parked_and_the_stream_moves_on(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    events = [make_event(1), make_event(2, key="poison"), make_event(3)]

    attempts = 0

    async def refuses_poison(session: AsyncSession, event: Event) -> None:
        nonlocal attempts
        if event.data["key"] == "poison":
            attempts += 1
            raise ValueError("cannot apply")
        await count_effect(session, event)

    c = consumer(ListSource(events), sessionmaker, handlers={"thing.happened": refuses_poison})
    assert await c.poll_once(wait=0) == 2  # one poll: the poison tried, parked, and the rest applied
    assert await c.cursor() == 3
    assert attempts == 3  # retried, then parked on the third failure
    assert await effects(sessionmaker) == {"k-1": 1, "k-3": 1}
    async with sessionmaker() as session:
        parked = (
            await session.execute(
                select(
                    infra.dead_letter.c.event_id, infra.dead_letter.c.attempts, infra.dead_letter.c.error, func.count()
                ).group_by(infra.dead_letter.c.event_id, infra.dead_letter.c.attempts, infra.dead_letter.c.error)
            )
        ).all()
    assert [tuple(row[:3]) for row in parked] == [(events[1].id, 3, "ValueError('cannot apply')")]


async def test_a_database_failure_is_no_poison(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The database failing under a handler says nothing about the event: nothing is parked, the
    batch is retried whole and applies once the database answers again."""
    from sqlalchemy.exc import OperationalError

    failing = True

    async def database_down(session: AsyncSession, event: Event) -> None:
        if failing:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("down"))
        await count_effect(session, event)

    c = consumer(ListSource([make_event(1), make_event(2)]), sessionmaker, handlers={"thing.happened": database_down})
    for _ in range(5):
        with pytest.raises(OperationalError):
            await c.poll_once(wait=0)
    failing = False
    assert await c.poll_once(wait=0) == 2
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(infra.dead_letter)) == 0


async def test_unknown_event_types_advance_the_cursor(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    c = consumer(ListSource([make_event(1), make_event(2)]), sessionmaker, handlers={})
    assert await c.poll_once(wait=0) == 0
    assert await c.cursor() == 2


async def test_an_admin_retry_applies_a_parked_event_once_it_can_be(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from crm_chassis.dead_letters import RetryFailed, event_retry, retry_dead_letter

    fixed = False

    async def until_fixed(session: AsyncSession, event: Event) -> None:
        if not fixed:
            raise ValueError("not yet")
        await count_effect(session, event)

    handlers = {"thing.happened": until_fixed}
    events = [make_event(1)]
    c = consumer(ListSource(events), sessionmaker, handlers=handlers)
    assert await c.poll_once(wait=0) == 0
    retries = {"test": event_retry(handlers)}
    with pytest.raises(RetryFailed):
        await retry_dead_letter(sessionmaker, infra, retries, "test", events[0].id)
    async with sessionmaker() as session:
        assert await session.scalar(select(infra.dead_letter.c.attempts)) == 4
    fixed = True
    await retry_dead_letter(sessionmaker, infra, retries, "test", events[0].id)
    assert await effects(sessionmaker) == {"k-1": 1}
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(infra.dead_letter)) == 0


async def test_spooled_events_are_written_at_the_end_of_the_batch_without_those_of_failed_attempts(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from crm_chassis.events import record_event

    events = [make_event(1, key="a"), make_event(2, key="flaky"), make_event(3, key="b")]
    attempts = 0

    async def publishes(session: AsyncSession, event: Event) -> None:
        nonlocal attempts
        await record_event(session, infra.outbox, "thing.followed", event.data["key"], {"seq": event.seq})
        if event.data["key"] == "flaky":
            attempts += 1
            if attempts == 1:
                raise ValueError("not this time")
        assert session.info.get("outbox_spool") is not None  # nothing written to the outbox yet

    c = consumer(ListSource(events), sessionmaker, handlers={"thing.happened": publishes}, spool_events=True)
    assert await c.poll_once(wait=0) == 3
    async with sessionmaker() as session:
        written = (
            await session.execute(select(infra.outbox.c.aggregate_id, infra.outbox.c.data).order_by(infra.outbox.c.seq))
        ).all()
    # The failed first attempt's event went with its savepoint: one event per applied event, in order.
    assert [(row.aggregate_id, row.data["seq"]) for row in written] == [("a", 1), ("flaky", 2), ("b", 3)]


async def test_a_batch_takes_one_savepoint_unless_one_of_its_events_fails(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A savepoint per event costs two round trips each: a batch that fails nowhere takes one; a
    failure undoes the batch's savepoint and applies the events one savepoint each, once."""
    engine = sessionmaker.kw["bind"]

    async def fails_on_poison(session: AsyncSession, event: Event) -> None:
        await count_effect(session, event)  # a write, then the failure: the savepoint must undo it
        if event.data["key"] == "poison":
            raise ValueError("cannot apply")

    def savepoints(statements: list[str]) -> int:
        return sum(1 for statement in statements if statement.startswith("SAVEPOINT"))

    events = [make_event(1), make_event(2), make_event(3)]
    c = consumer(ListSource(events), sessionmaker, handlers={"thing.happened": fails_on_poison})
    with recorded_statements(engine) as clean:
        assert await c.poll_once(wait=0) == 3
    assert savepoints(clean) == 1

    events += [make_event(4), make_event(5, key="poison"), make_event(6)]
    with recorded_statements(engine) as failing:
        assert await c.poll_once(wait=0) == 2
    # the batch's, then k-4, the poison's second and third attempts, k-6
    assert savepoints(failing) == 5
    assert await effects(sessionmaker) == {"k-1": 1, "k-2": 1, "k-3": 1, "k-4": 1, "k-6": 1}


async def test_prepare_reads_a_batch_once_and_handlers_read_alone_after_a_failure(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from crm_chassis.consumer import PREPARED

    prepared: list[list[int]] = []
    seen: list[tuple[int, object]] = []

    async def prepare(_session: AsyncSession, batch: list[Event]) -> object:
        prepared.append([e.seq for e in batch])
        return {e.seq for e in batch}

    async def handler(session: AsyncSession, event: Event) -> None:
        seen.append((event.seq, session.info.get(PREPARED)))
        if event.data["key"] == "poison":
            raise ValueError("cannot apply")
        await count_effect(session, event)

    events = [make_event(1), make_event(2), make_event(3)]
    source = ListSource(events)
    c = consumer(source, sessionmaker, handlers={"thing.happened": handler}, prepare=prepare)
    assert await c.poll_once(wait=0) == 3
    assert prepared == [[1, 2, 3]]
    assert seen == [(1, {1, 2, 3}), (2, {1, 2, 3}), (3, {1, 2, 3})]

    prepared.clear()
    seen.clear()
    events += [make_event(4), make_event(5, key="poison"), make_event(6)]
    assert await c.poll_once(wait=0) == 2
    assert prepared == [[4, 5, 6]]
    # in one go with what was read, then one by one without it (the poison twice more, then parked)
    assert seen == [(4, {4, 5, 6}), (5, {4, 5, 6}), (4, None), (5, None), (5, None), (6, None)]
    assert await effects(sessionmaker) == {"k-1": 1, "k-2": 1, "k-3": 1, "k-4": 1, "k-6": 1}


class TrickleSource:
    """Events that arrive one by one: one more has arrived by each fetch, and `during_pause` more
    while the consumer lingers. Stops the consumer (cancels it) once `total` are applied."""

    def __init__(self, total: int) -> None:
        self.events = [make_event(i) for i in range(1, total + 1)]
        self.arrived = 0
        self.fetches_with_events = 0

    def arrive(self, count: int) -> None:
        self.arrived = min(self.arrived + count, len(self.events))

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        if after >= len(self.events):
            raise asyncio.CancelledError  # every event applied: the test's end
        self.arrive(1)
        batch = [e for e in self.events[: self.arrived] if e.seq > after][:limit]
        self.fetches_with_events += bool(batch)
        return batch


class Lingering(EventConsumer):
    def __init__(self, source: TrickleSource, during_pause: int, **kw: Any) -> None:
        super().__init__(source=source, **kw)
        self.trickle, self.during_pause = source, during_pause
        self.pauses: list[float] = []

    async def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.trickle.arrive(self.during_pause)  # what arrives while it waits


@pytest.mark.parametrize("linger", [0.0, 0.25])
async def test_a_lingering_consumer_applies_a_trickle_a_few_events_to_a_batch(
    sessionmaker: async_sessionmaker[AsyncSession], linger: float
) -> None:
    source = TrickleSource(12)
    c = Lingering(
        source,
        during_pause=2,
        name="test",
        sessionmaker=sessionmaker,
        tables=infra,
        handlers={"thing.happened": count_effect},
        batch_size=3,
        linger=linger,
    )
    with pytest.raises(asyncio.CancelledError):
        await c.run()
    assert await effects(sessionmaker) == {f"k-{i}": 1 for i in range(1, 13)}
    if linger:
        # After each batch short of 3 it waited, and the two that arrived meanwhile joined the next.
        assert c.pauses and set(c.pauses) == {linger}
        assert source.fetches_with_events == 6
    else:
        assert c.pauses == []
        assert source.fetches_with_events == 12  # one transaction per event
