"""Sends due deliveries: signed POSTs, outcomes logged, retries scheduled, failing receivers disabled."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

from crm_gateway.config import Settings
from crm_gateway.db import Sessionmaker
from crm_gateway.webhooks import repository as webhook_repository
from crm_gateway.webhooks import signing, targets
from crm_gateway.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from crm_gateway.webhooks.retry import RetryPolicy
from crm_gateway.webhooks.runtime import WebhookRuntime

logger = logging.getLogger("crm.gateway.webhooks")


@dataclass(frozen=True)
class Outcome:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(job: webhook_repository.Job) -> bytes:
    """The JSON a receiver gets; the signature covers exactly these bytes."""
    payload = {"id": str(job.event_id), "type": job.event_type, "occurred_at": job.occurred_at.isoformat()}
    return json.dumps({**payload, "data": job.data}, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookMetrics:
    """Delivery attempts by outcome (`delivered`, `retrying`, `failed`, and the HTTP status class or
    error of the attempt) with their latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "gateway_webhook_deliveries_total",
            "Webhook delivery attempts, by the delivery's outcome and the attempt's result",
            ["outcome", "result"],
            registry=registry,
        )
        self.latency = Histogram(
            "gateway_webhook_delivery_seconds",
            "Time a webhook delivery attempt took, by the delivery's outcome",
            ["outcome"],
            registry=registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )

    def observe(self, outcome: str, attempt: Outcome) -> None:
        result = f"{attempt.status_code // 100}xx" if attempt.status_code is not None else "error"
        self.attempts.labels(outcome, result).inc()
        self.latency.labels(outcome).observe(attempt.duration_ms / 1000)


class Dispatcher:
    def __init__(
        self,
        sessionmaker: Sessionmaker,
        settings: Settings,
        runtime: WebhookRuntime,
        metrics: WebhookMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.runtime = runtime
        self.policy = RetryPolicy(
            initial_seconds=settings.webhook_retry_initial_seconds,
            max_delay_seconds=settings.webhook_retry_max_delay_seconds,
        )
        # Redirects are not followed: the place they point to has not been checked (SSRF).
        self.client = httpx.AsyncClient(
            transport=runtime.transport,
            timeout=httpx.Timeout(settings.webhook_timeout_seconds),
            limits=httpx.Limits(max_connections=settings.webhook_max_concurrency),
            follow_redirects=False,
            trust_env=False,
        )
        self._slots = asyncio.Semaphore(settings.webhook_max_concurrency)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def run_once(self) -> int:
        """Send every delivery due now (one batch); the number attempted."""
        now = self.runtime.clock()
        # Held past the longest a send can take, so that no other replica sends it meanwhile.
        lease = timedelta(seconds=self.settings.webhook_timeout_seconds * 3 + 30)
        async with self.sessionmaker.begin() as session:
            # Old secrets past their overlap leave the database as soon as they stop signing.
            await webhook_repository.forget_retired_secrets(session, now=now)
            jobs = await webhook_repository.claim_due(
                session, now=now, lease_until=now + lease, limit=self.settings.webhook_batch_size
            )
        await asyncio.gather(*(self._process(job) for job in jobs))
        return len(jobs)

    async def run(self) -> None:
        """Dispatch until cancelled; errors are logged and the loop goes on."""
        while True:
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("webhook dispatch failed; retrying")
                sent = 0
            if sent < self.settings.webhook_batch_size:
                await asyncio.sleep(self.settings.webhook_dispatch_interval_seconds)

    async def _process(self, job: webhook_repository.Job) -> None:
        # The slot covers the write too: it bounds the database connections the dispatcher holds.
        async with self._slots:
            await self._record(job, await self._send(job))

    async def _send(self, job: webhook_repository.Job) -> Outcome:
        attempted_at = self.runtime.clock()
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            target = await targets.check(
                job.url, self.runtime.resolver, allow_private=self.settings.webhook_allow_private
            )
            body = body_of(job)
            url, host, extensions = target.request_parts()
            headers = signing.headers(job.secrets, str(job.event_id), int(attempted_at.timestamp()), body) | host
            # Streamed and closed unread: a receiver's answer body is never needed, whatever its size.
            async with self.client.stream("POST", url, content=body, headers=headers, extensions=extensions) as reply:
                status_code = reply.status_code
        except targets.UnsafeTarget as exc:
            error = f"refused: {exc}"
        except httpx.TimeoutException:
            error = f"timeout after {self.settings.webhook_timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = round((time.perf_counter() - started) * 1000)
        return Outcome(attempted_at, status_code, error, duration_ms)

    async def _record(self, job: webhook_repository.Job, outcome: Outcome) -> None:
        async with self.sessionmaker.begin() as session:
            found = await webhook_repository.delivery_with_subscription(session, job.delivery_id, job.subscription_id)
            if found is None:
                return
            delivery, subscription = found
            await webhook_repository.add_attempt(
                session,
                delivery.id,
                attempted_at=outcome.attempted_at,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
            delivery.attempt_count += 1
            delivery.last_attempt_at = outcome.attempted_at
            delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
            self._settle(delivery, subscription, outcome)
        if self.metrics is not None:
            settled = delivery.status.value if delivery.status != DeliveryStatus.pending else "retrying"
            self.metrics.observe(settled, outcome)
        logger.info(
            "webhook attempt",
            extra={
                "webhook_id": str(job.subscription_id),
                "delivery_id": str(job.delivery_id),
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
                "outcome": delivery.status.value,
            },
        )

    def _settle(self, delivery: WebhookDelivery, subscription: WebhookSubscription, outcome: Outcome) -> None:
        if outcome.delivered:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.delivered, None
            delivery.delivered_at = outcome.attempted_at
            subscription.consecutive_failures = 0
            return
        if outcome.status_code == 410:
            # Standard Webhooks: 410 Gone means the receiver asks never to be called again.
            delivery.status, delivery.next_attempt_at = DeliveryStatus.failed, None
            self._disable(subscription, "gone")
            return
        now = self.runtime.clock()
        at = self.policy.next_attempt(delivery.attempt_count, now, delivery.retry_until, self.runtime.random)
        if at is not None:
            delivery.next_attempt_at = at
            return
        delivery.status, delivery.next_attempt_at = DeliveryStatus.failed, None
        subscription.consecutive_failures += 1
        if subscription.consecutive_failures >= self.settings.webhook_disable_after_failures:
            self._disable(subscription, "failing")

    def _disable(self, subscription: WebhookSubscription, reason: str) -> None:
        if subscription.active:
            subscription.active = False
            subscription.disabled_reason, subscription.disabled_at = reason, self.runtime.clock()
            subscription.version += 1
            logger.warning("webhook disabled", extra={"webhook_id": str(subscription.id), "reason": reason})
