"""`GET /internal/events`: a service's outbox served as an ordered, long-polled feed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.schema import Table

from crm_chassis.events import Event, OutboxSignal

POLL_FALLBACK_SECONDS = 0.5  # writes from other processes or replicas are seen at least this often


class EventPage(BaseModel):
    items: list[Event]
    # How far the feed looked: the last item's seq, or with `types` the newest seq it passed over
    # (a reader may move its cursor there)
    last_seq: int
    head_seq: int = 0  # the newest event's seq: how far behind the reader is (consumer lag)


async def read_events(
    sessionmaker: async_sessionmaker[AsyncSession],
    outbox: Table,
    after: int,
    limit: int,
    *,
    types: Collection[str] | None = None,
    until: int | None = None,
) -> list[Event]:
    """Up to `limit` events after `after` in order; only of `types`, and up to `until`, if given."""
    stmt = select(outbox).where(outbox.c.seq > after)
    if types is not None:
        stmt = stmt.where(outbox.c.type.in_(sorted(types)))
    if until is not None:
        stmt = stmt.where(outbox.c.seq <= until)
    async with sessionmaker() as session:
        rows = (await session.execute(stmt.order_by(outbox.c.seq).limit(limit))).mappings()
        return [Event.model_validate(dict(row)) for row in rows]


async def head_seq(sessionmaker: async_sessionmaker[AsyncSession], outbox: Table) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.max(outbox.c.seq))) or 0)


def feed_router(outbox: Table, max_wait: float) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.get("/events", response_model=EventPage)
    async def list_events(
        request: Request,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        wait: Annotated[float, Query(ge=0, le=60)] = 0,
        types: Annotated[
            str | None, Query(max_length=4000, description="comma-separated event types: only these are sent")
        ] = None,
    ) -> EventPage:
        sessionmaker = request.app.state.read_sessionmaker
        signal: OutboxSignal = request.app.state.outbox_signal
        draining: asyncio.Event | None = getattr(request.app.state, "draining", None)
        deadline = time.monotonic() + min(wait, max_wait)
        wanted = None if types is None else frozenset(t for t in (t.strip() for t in types.split(",")) if t)
        while True:
            head: int | None = None
            if wanted is None:
                events = await read_events(sessionmaker, outbox, after, limit)
                scanned = events[-1].seq if events else after
            else:
                # The head first, then the wanted events up to it: seqs become visible in order
                # (the outbox ordering lock), so every event up to the head was looked at, and
                # the reader may move its cursor there though none of them was sent.
                head = await head_seq(sessionmaker, outbox)
                events = await read_events(sessionmaker, outbox, after, limit, types=wanted, until=head)
                scanned = events[-1].seq if len(events) == limit else max(head, after)
            remaining = deadline - time.monotonic()
            # A stop has begun: answer now rather than outlast the server's graceful period.
            if events or remaining <= 0 or (draining is not None and draining.is_set()):
                if head is None:
                    head = await head_seq(sessionmaker, outbox)
                return EventPage(items=events, last_seq=scanned, head_seq=head)
            after = scanned  # looked at already: the next look starts after it
            await signal.wait(min(remaining, POLL_FALLBACK_SECONDS))

    return router
