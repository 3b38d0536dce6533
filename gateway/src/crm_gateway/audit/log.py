"""The audit log: who called what, when, from where, with what outcome.

Entries are queued in memory when a response has been sent and written in batches by a
background task, so that auditing adds no database round trip to any request. The queue is
bounded: when the database cannot keep up, the oldest entries are dropped and counted, rather
than slowing every request or exhausting memory (`gateway_audit_dropped_total`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from crm_gateway.audit import repository as audit_repository
from crm_gateway.db import Sessionmaker

logger = logging.getLogger("crm.gateway.audit")


def dropped_counter(registry: CollectorRegistry) -> Counter:
    return Counter("gateway_audit_dropped_total", "Audit entries dropped because the queue was full", registry=registry)


class AuditLog:
    def __init__(
        self,
        sessionmaker: Sessionmaker,
        dropped: Counter,
        *,
        batch_size: int,
        queue_size: int,
        interval: float,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.batch_size = batch_size
        self.interval = interval
        self._pending: deque[dict[str, Any]] = deque(maxlen=queue_size)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.dropped = dropped

    def record(self, entry: dict[str, Any]) -> None:
        """Queue an entry; never waits."""
        if len(self._pending) == self._pending.maxlen:
            self.dropped.inc()
        self._pending.append(entry)
        if len(self._pending) >= self.batch_size:
            self._wake.set()

    async def flush(self) -> int:
        """Write everything queued so far; the number of entries written."""
        written = 0
        async with self._lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
                try:
                    async with self.sessionmaker.begin() as session:
                        await audit_repository.add_all(session, batch)
                except Exception:
                    # Put back for the next round: a database blip must not lose the trail.
                    self._pending.extendleft(reversed(batch))
                    raise
                written += len(batch)
        return written

    async def run(self) -> None:
        """Flush every `interval` seconds, or sooner when a batch is full, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                logger.exception("audit entries could not be written; retrying")
                await asyncio.sleep(self.interval)
