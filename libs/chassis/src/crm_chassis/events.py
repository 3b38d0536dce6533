"""The event envelope and the transactional outbox."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import event as sa_event
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import Table

from crm_chassis.db import insert_rows, utcnow

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


class OutboxSpool:
    """Outbox rows held back from a long transaction, written by `flush` in one short final step.

    A transaction that writes outbox rows holds the ordering lock from its first event to its commit,
    so every other writer waits for it. A long one (an atomic import of a whole file) spools its
    events here instead, to a file on disk so that memory stays flat, and takes the lock only for
    the bulk insert just before it commits. Rolled back, it simply never flushes.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed by flush/discard
        self.count = 0

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            pickle.dump(row, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += len(rows)

    def mark(self) -> tuple[int, int]:
        """Where the spool stands now, for `rewind` (a savepoint's events undone with it)."""
        return self.count, self._file.tell()

    def rewind(self, mark: tuple[int, int]) -> None:
        """Forget the rows added since `mark`."""
        self.count, position = mark
        self._file.seek(position)
        self._file.truncate()

    def _rows(self) -> Iterator[dict[str, Any]]:
        self._file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self._file)  # noqa: S301 - our own file, written just above

    async def flush(self, session: AsyncSession, outbox: Table, batch: int = 5000) -> int:
        """Insert the spooled rows in the session's transaction, under the ordering lock; how many."""
        if session.info.get("outbox_spool") is self:
            del session.info["outbox_spool"]
        written = 0
        if self.count:
            await claim_outbox(session)
            now = utcnow()
            chunk: list[dict[str, Any]] = []
            for row in self._rows():
                chunk.append(row | {"occurred_at": now})  # the events occur when they commit
                if len(chunk) >= batch:
                    await insert_rows(session, outbox, chunk)
                    written, chunk = written + len(chunk), []
            if chunk:
                await insert_rows(session, outbox, chunk)
                written += len(chunk)
        self.discard()
        return written

    def discard(self) -> None:
        self._file.close()
        self.count = 0


def spool_outbox(session: AsyncSession, directory: Path | None = None) -> OutboxSpool:
    """From now on the session's events go to a spool (see `OutboxSpool`) until it is flushed."""
    spool = OutboxSpool(directory)
    session.info["outbox_spool"] = spool
    return spool


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
    event_id = uuid.uuid4()
    row = {
        "id": event_id,
        "type": type,
        "aggregate_id": str(aggregate_id),
        "version": version,
        "occurred_at": utcnow(),
        "data": data,
    }
    spool: OutboxSpool | None = session.info.get("outbox_spool")
    if spool is not None:
        spool.add([row])
        return event_id
    await claim_outbox(session)
    await session.execute(insert(outbox).values(**row))
    return event_id


async def record_events(
    session: AsyncSession, outbox: Table, type: str, events: Sequence[tuple[Any, dict[str, Any], int]]
) -> None:
    """Many events of one type, each (aggregate id, data, version), in the caller's transaction and
    in this order, with one bulk insert; published only if the transaction commits."""
    if not events:
        return
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "type": type,
            "aggregate_id": str(aggregate_id),
            "version": version,
            "occurred_at": now,
            "data": data,
        }
        for aggregate_id, data, version in events
    ]
    spool: OutboxSpool | None = session.info.get("outbox_spool")
    if spool is not None:
        spool.add(rows)
        return
    await claim_outbox(session)
    await insert_rows(session, outbox, rows)
