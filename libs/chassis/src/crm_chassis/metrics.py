"""Prometheus metrics of the background work every process does, and the /metrics document.

- `/metrics` serves the app's own registry (HTTP, upstreams, breakers, webhooks, outbox) and the
  process-wide default registry: the process's CPU, memory, open files and garbage collector
  (`process_*`, `python_*`), the consumers' lag (crm_chassis.consumer_lag) and the jobs.
- `JOBS`: background jobs by kind and outcome, with durations (`crm_jobs_total`,
  `crm_job_duration_seconds`). Kinds: `import`, `export`, `scoring_run`, `rescore`, `sla_check`.
- `OutboxMetrics`: the outbox's size and head, and per relay (NATS transport) how many events
  it is behind and how old the oldest of them is, read at most every `interval` seconds by a
  background task (never by the scrape).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.db import utcnow
from crm_chassis.tables import InfraTables

logger = logging.getLogger("crm.metrics")
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


def exposition(registry: CollectorRegistry) -> bytes:
    """The text of /metrics: the app's registry, then the process-wide one."""
    return generate_latest(registry) + generate_latest(REGISTRY)


class JobMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.finished = Counter(
            "crm_jobs_total", "Background jobs finished, by kind and outcome", ["kind", "outcome"], registry=registry
        )
        self.duration = Histogram(
            "crm_job_duration_seconds",
            "Duration of background jobs, by kind and outcome",
            ["kind", "outcome"],
            registry=registry,
            buckets=JOB_BUCKETS,
        )

    def observe(self, kind: str, outcome: str, seconds: float) -> None:
        self.finished.labels(kind, outcome).inc()
        self.duration.labels(kind, outcome).observe(seconds)

    @contextlib.asynccontextmanager
    async def track(self, kind: str) -> AsyncIterator[Callable[[str], None]]:
        """Time the block as one job of `kind`: `succeeded`, `failed` (an exception) or `cancelled`.
        The block may call the yielded function to name another outcome (say, `skipped`)."""
        started = time.perf_counter()
        outcome = ["succeeded"]

        def set_outcome(value: str) -> None:
            outcome[0] = value

        try:
            yield set_outcome
        except asyncio.CancelledError:
            outcome[0] = "cancelled"
            raise
        except BaseException:
            outcome[0] = "failed"
            raise
        finally:
            self.observe(kind, outcome[0], time.perf_counter() - started)


# Process-wide, like the process metrics: one service per process in production.
JOBS = JobMetrics(REGISTRY)


class OutboxMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Gauge("crm_outbox_events", "Events held in this service's outbox", registry=registry)
        self.head = Gauge("crm_outbox_head_seq", "Sequence number of the newest outbox event", registry=registry)
        self.relay_backlog = Gauge(
            "crm_outbox_relay_backlog_events",
            "Outbox events a relay has not yet had acknowledged by the broker",
            ["relay"],
            registry=registry,
        )
        self.relay_lag = Gauge(
            "crm_outbox_relay_lag_seconds",
            "Age of the oldest outbox event a relay has not yet relayed (0 when caught up)",
            ["relay"],
            registry=registry,
        )

    async def refresh(
        self, sessionmaker: async_sessionmaker[AsyncSession], tables: InfraTables, now: datetime | None = None
    ) -> None:
        outbox, relays = tables.outbox, tables.relay_cursor
        now = now or utcnow()
        async with sessionmaker() as session:
            count, head = (await session.execute(select(func.count(), func.max(outbox.c.seq)))).one()
            head = int(head or 0)
            self.events.set(int(count))
            self.head.set(head)
            for relay, last_seq in (await session.execute(select(relays.c.relay, relays.c.last_seq))).all():
                self.relay_backlog.labels(relay).set(max(0, head - int(last_seq)))
                oldest = await session.scalar(select(func.min(outbox.c.occurred_at)).where(outbox.c.seq > last_seq))
                self.relay_lag.labels(relay).set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    async def run(
        self, sessionmaker: async_sessionmaker[AsyncSession], tables: InfraTables, interval: float = 15.0
    ) -> None:
        while True:
            try:
                await self.refresh(sessionmaker, tables)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a busy database must not end the metrics
                logger.info("outbox metrics not refreshed", extra={"error": repr(exc)})
            await asyncio.sleep(interval)
