"""The event envelope and the transactional outbox."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import event as sa_event
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import Table

from crm_chassis.db import utcnow

# Any constant works; all producers of one database share it so that outbox rows commit in seq order.
_OUTBOX_LOCK_KEY = 0x0C12_0B0C


class Event(BaseModel):
    """What travels between services: `{id, seq, type, occurred_at, aggregate_id, version, data}`."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    seq: int
    type: str
    occurred_at: datetime
    aggregate_id: str
    version: int
    data: dict[str, Any]


class OutboxSignal:
    """Wakes long-polling feed readers in this process when an outbox row commits."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


async def claim_outbox(session: AsyncSession) -> None:
    """Prepare the session's transaction for outbox writes (once per transaction).

    On PostgreSQL this takes a transaction-scoped advisory lock, so producing transactions commit in
    the order of their sequence numbers and a feed reader that has seen seq N can never later find
    a smaller one appear. After commit, feed readers in this process are woken. Call it before any
    statement that inserts outbox rows directly (`record_event` calls it itself).
    """
    info = session.info
    if info.get("outbox_locked"):
        return
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _OUTBOX_LOCK_KEY})
    info["outbox_locked"] = True
    signal: OutboxSignal | None = info.get("outbox_signal")
    sync_session = session.sync_session

    def _after_end(*_: Any) -> None:
        info.pop("outbox_locked", None)

    def _after_commit(*_: Any) -> None:
        _after_end()
        if signal is not None:
            signal.notify()

    sa_event.listen(sync_session, "after_commit", _after_commit, once=True)
    sa_event.listen(sync_session, "after_rollback", _after_end, once=True)


async def record_event(
    session: AsyncSession,
    outbox: Table,
    type: str,
    aggregate_id: Any,
    data: dict[str, Any],
    *,
    version: int = 1,
) -> uuid.UUID:
    """Write an event to the outbox in the caller's transaction; it is published only if that commits."""
    await claim_outbox(session)
    event_id = uuid.uuid4()
    await session.execute(
        insert(outbox).values(
            id=event_id,
            type=type,
            aggregate_id=str(aggregate_id),
            version=version,
            occurred_at=utcnow(),
            data=data,
        )
    )
    return event_id
