"""`GET /internal/events`: a service's outbox served as an ordered, long-polled feed."""

from __future__ import annotations

import asyncio
import time
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
    last_seq: int
    head_seq: int = 0  # the newest event's seq: how far behind the reader is (consumer lag)


async def read_events(
    sessionmaker: async_sessionmaker[AsyncSession], outbox: Table, after: int, limit: int
) -> list[Event]:
    async with sessionmaker() as session:
        rows = (
            await session.execute(select(outbox).where(outbox.c.seq > after).order_by(outbox.c.seq).limit(limit))
        ).mappings()
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
    ) -> EventPage:
        sessionmaker = request.app.state.read_sessionmaker
        signal: OutboxSignal = request.app.state.outbox_signal
        draining: asyncio.Event | None = getattr(request.app.state, "draining", None)
        deadline = time.monotonic() + min(wait, max_wait)
        while True:
            events = await read_events(sessionmaker, outbox, after, limit)
            remaining = deadline - time.monotonic()
            # A stop has begun: answer now rather than outlast the server's graceful period.
            if events or remaining <= 0 or (draining is not None and draining.is_set()):
                head = await head_seq(sessionmaker, outbox)
                return EventPage(items=events, last_seq=events[-1].seq if events else after, head_seq=head)
            await signal.wait(min(remaining, POLL_FALLBACK_SECONDS))

    return router
