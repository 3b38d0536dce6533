"""A consumer asks its producer's feed only for the event types it has handlers for: the rest is
neither sent nor opened in a transaction, and its cursor still moves past them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.consumer import EventConsumer, HttpFeedSource
from crm_chassis.db import create_engine, create_sessionmaker, make_metadata
from crm_chassis.events import Event, OutboxSignal
from crm_chassis.feed import feed_router
from crm_chassis.tables import infra_tables
from crm_chassis.testing import recorded_statements

metadata = make_metadata("feedtypes")
infra = infra_tables(metadata)
AT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'f.db'}", "feedtypes")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def producer(db: async_sessionmaker[AsyncSession]) -> FastAPI:
    app = FastAPI()
    app.state.read_sessionmaker = db
    app.state.outbox_signal = OutboxSignal()
    app.include_router(feed_router(infra.outbox, 5))
    return app


async def publish(db: async_sessionmaker[AsyncSession], *types: str) -> None:
    async with db.begin() as session:
        for n, kind in enumerate(types):
            values = {"id": uuid.uuid4(), "type": kind, "aggregate_id": "a", "version": n + 1, "occurred_at": AT}
            await session.execute(insert(infra.outbox).values(**values, data={"n": n}))


async def test_the_feed_sends_only_the_types_asked_for_and_says_how_far_it_looked(
    db: async_sessionmaker[AsyncSession], producer: FastAPI
) -> None:
    await publish(db, "order.recorded", "customer.updated", "order.recorded", "order.recorded")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(producer), base_url="http://p") as client:
        wanted = (await client.get("/internal/events", params={"after": 0, "types": "customer.updated"})).json()
        none = (await client.get("/internal/events", params={"after": 2, "types": "customer.updated"})).json()
        both = (
            await client.get(
                "/internal/events", params={"after": 0, "limit": 2, "types": "customer.updated,order.recorded"}
            )
        ).json()
        everything = (await client.get("/internal/events", params={"after": 0})).json()
    assert [(e["seq"], e["type"]) for e in wanted["items"]] == [(2, "customer.updated")]
    assert wanted["last_seq"] == 4  # every event up to the head was looked at
    assert (none["items"], none["last_seq"], none["head_seq"]) == ([], 4, 4)
    assert [e["seq"] for e in both["items"]] == [1, 2] and both["last_seq"] == 2  # a full page: no further
    assert [e["seq"] for e in everything["items"]] == [1, 2, 3, 4] and everything["last_seq"] == 4


async def test_a_consumer_applies_its_types_and_moves_past_the_rest_without_opening_them(
    db: async_sessionmaker[AsyncSession], producer: FastAPI
) -> None:
    applied: list[int] = []

    async def on_updated(_session: AsyncSession, event: Event) -> None:
        applied.append(event.seq)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(producer), base_url="http://p") as client:
        source = HttpFeedSource(client, "http://p", lambda: "token", types={"customer.updated"})
        consumer = EventConsumer(
            name="follower", source=source, sessionmaker=db, tables=infra, handlers={"customer.updated": on_updated}
        )
        await publish(db, *["order.recorded"] * 5)
        with recorded_statements(db.kw["bind"]) as statements:
            assert await consumer.poll_once(wait=0) == 0
        assert await consumer.cursor() == 5  # past the five it was not sent
        assert not any("consumed_event" in sql for sql in statements)

        await publish(db, "order.recorded", "customer.updated", "order.recorded")
        assert await consumer.poll_once(wait=0) == 1
        assert applied == [7] and await consumer.cursor() == 8

        # a long poll waits for a wanted event; unwanted ones do not end it
        waiting = asyncio.create_task(consumer.poll_once(wait=3))
        await publish(db, "order.recorded")
        producer.state.outbox_signal.notify()
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await publish(db, "customer.updated")
        producer.state.outbox_signal.notify()
        assert await asyncio.wait_for(waiting, 3) == 1
        assert applied == [7, 10] and await consumer.cursor() == 10
    async with db() as session:
        consumed = (await session.scalars(select(infra.consumed_event.c.event_id))).all()
    assert len(consumed) == 2  # only the applied events are remembered
