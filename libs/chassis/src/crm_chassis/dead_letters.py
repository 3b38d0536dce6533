"""Dead letters: items a worker could not process, parked with the error and the attempts.

A consumer parks an event after `CRM_DEAD_LETTER_AFTER_ATTEMPTS` failures and goes on with the
rest of its stream; a worker over a queue (scoring's re-scoring) parks the queued item. Admins
list them at `GET /admin/dead-letters` (through the gateway, per service:
`/api/v1/admin/dead-letters/{service}`), and either retry one (the worker's own retry: an event
is handed to its consumer's handler again, in one transaction with the removal of the dead
letter) or discard it (`POST .../discard`). A retry that fails again keeps it parked, with one attempt more.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.consumer import Handler, park
from crm_chassis.errors import AppError, Forbidden, NotFound
from crm_chassis.events import Event
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep, paginate_rows
from crm_chassis.tables import InfraTables

# Retries an item in the caller's transaction; raises if it fails again.
Retry = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


class RetryFailed(AppError):
    status, code = 409, "retry_failed"


class DeadLetter(BaseModel):
    consumer: str
    event_id: uuid.UUID
    item: dict[str, Any]
    error: str
    attempts: int
    failed_at: datetime


class DeadLetterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.resolved = Counter(
            "crm_dead_letters_resolved",
            "Dead letters an admin retried successfully or discarded, by consumer and outcome",
            ["consumer", "outcome"],
            registry=registry,
        )


def event_retry(handlers: Mapping[str, Handler]) -> Retry:
    """The retry of a consumer's parked event: its handler, run again on the stored envelope."""

    async def retry(session: AsyncSession, item: dict[str, Any]) -> None:
        event = Event.model_validate(item)
        handler = handlers.get(event.type)
        if handler is not None:
            await handler(session, event)

    return retry


async def list_dead_letters(
    session: AsyncSession, tables: InfraTables, *, consumer: str | None, limit: int, cursor: str | None
) -> Page[DeadLetter]:
    dead = tables.dead_letter
    stmt = select(dead.c.consumer, dead.c.event_id, dead.c.event, dead.c.error, dead.c.attempts, dead.c.failed_at)
    if consumer is not None:
        stmt = stmt.where(dead.c.consumer == consumer)
    order = [(dead.c.failed_at, True), (dead.c.consumer, False), (dead.c.event_id, False)]
    page = await paginate_rows(
        session, stmt, order, "failed_at", limit, cursor, key=lambda r: [r.failed_at, r.consumer, r.event_id]
    )
    return page.map(
        lambda r: DeadLetter(
            consumer=r.consumer,
            event_id=r.event_id,
            item=r.event,
            error=r.error,
            attempts=r.attempts,
            failed_at=r.failed_at,
        )
    )


async def _get(session: AsyncSession, tables: InfraTables, consumer: str, event_id: uuid.UUID) -> dict[str, Any]:
    dead = tables.dead_letter
    item = await session.scalar(
        select(dead.c.event).where(dead.c.consumer == consumer, dead.c.event_id == event_id).with_for_update()
    )
    if item is None:
        raise NotFound(f"no dead letter {event_id} of {consumer}", code="dead_letter_not_found")
    return dict(item)


async def _remove(session: AsyncSession, tables: InfraTables, consumer: str, event_id: uuid.UUID) -> None:
    dead = tables.dead_letter
    await session.execute(delete(dead).where(dead.c.consumer == consumer, dead.c.event_id == event_id))


async def retry_dead_letter(
    sessionmaker: async_sessionmaker[AsyncSession],
    tables: InfraTables,
    retries: Mapping[str, Retry],
    consumer: str,
    event_id: uuid.UUID,
) -> None:
    """Process a parked item again; removed on success, kept with one attempt more on failure."""
    retry = retries.get(consumer)
    async with sessionmaker.begin() as session:
        item = await _get(session, tables, consumer, event_id)
        if retry is None:
            raise RetryFailed(f"{consumer} has no retry in this service; discard the item instead")
        try:
            async with session.begin_nested():
                await retry(session, item)
        except Exception as exc:
            await park(session, tables, consumer, event_id, item, exc, 1)
            failure: Exception | None = exc
        else:
            await _remove(session, tables, consumer, event_id)
            failure = None
    if failure is not None:
        raise RetryFailed(f"the retry failed again: {failure!r}"[:2000], attempts_added=1)


async def discard_dead_letter(
    sessionmaker: async_sessionmaker[AsyncSession], tables: InfraTables, consumer: str, event_id: uuid.UUID
) -> None:
    async with sessionmaker.begin() as session:
        await _get(session, tables, consumer, event_id)
        await _remove(session, tables, consumer, event_id)


def dead_letter_router(tables: InfraTables, retries: Mapping[str, Retry], registry: CollectorRegistry) -> APIRouter:
    """`/admin/dead-letters` of a service: admins (and the gateway's service identity) only."""
    router = APIRouter(prefix="/admin/dead-letters", tags=["operations"], include_in_schema=False)
    metrics = DeadLetterMetrics(registry)

    def admin_only(principal: Any) -> None:
        if not principal.is_admin:
            raise Forbidden("dead letters are for admins")

    @router.get("", response_model=Page[DeadLetter])
    async def list_route(
        request: Request,
        principal: PrincipalDep,
        page: PageDep,
        consumer: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Page[DeadLetter]:
        admin_only(principal)
        async with request.app.state.read_sessionmaker() as session:
            return await list_dead_letters(session, tables, consumer=consumer, limit=page.limit, cursor=page.cursor)

    @router.post("/{consumer}/{event_id}/retry", status_code=204)
    async def retry_route(request: Request, principal: PrincipalDep, consumer: str, event_id: uuid.UUID) -> Response:
        admin_only(principal)
        await retry_dead_letter(request.app.state.sessionmaker, tables, retries, consumer, event_id)
        metrics.resolved.labels(consumer, "retried").inc()
        return Response(status_code=204)

    @router.post("/{consumer}/{event_id}/discard", status_code=204)
    async def discard_route(request: Request, principal: PrincipalDep, consumer: str, event_id: uuid.UUID) -> Response:
        admin_only(principal)
        await discard_dead_letter(request.app.state.sessionmaker, tables, consumer, event_id)
        metrics.resolved.labels(consumer, "discarded").inc()
        return Response(status_code=204)

    return router
