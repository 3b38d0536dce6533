"""Consumer lag: how many events each consumer is behind its producer's newest one.

A wrapper around a consumer's event source, which says after every fetch how far behind the
consumer is (`behind`): a producer's feed answers with its head (`head_seq`), so the lag is the head
less the consumer's position (`after`); a JetStream durable consumer counts the messages not yet
delivered and those delivered but not acknowledged. The gauge is set on every poll, in the
process-wide registry that /metrics serves (crm_chassis.metrics).
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Gauge

from crm_chassis.events import Event

CONSUMER_LAG = Gauge("crm_consumer_lag_events", "Events a consumer is behind its producer's newest", ["consumer"])


class LagSource(Protocol):
    def behind(self, after: int) -> int | None:
        """Events behind, for a consumer whose committed position is `after`; None if not known yet."""

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]: ...


class LagReportingSource:
    def __init__(self, inner: LagSource, consumer: str) -> None:
        self.inner = inner
        self.gauge = CONSUMER_LAG.labels(consumer)

    @property
    def scanned_to(self) -> int | None:
        return getattr(self.inner, "scanned_to", None)

    async def fetch(self, after: int, limit: int, wait: float) -> list[Event]:
        events = await self.inner.fetch(after, limit, wait)
        if (behind := self.inner.behind(after)) is not None:
            self.gauge.set(max(0, behind))
        return events
