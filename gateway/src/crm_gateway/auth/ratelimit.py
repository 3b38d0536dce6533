"""Rate limits per (principal, route class): in this process's memory, or shared in Redis.

By default a token bucket in memory: checking a limit must not cost a database round trip on
every request. The price is that each process counts on its own, so N gateway replicas (or N
uvicorn workers, `CRM_GATEWAY_WORKERS`) let a caller make up to N times the configured rate.
With `CRM_REDIS_URL` set, every process counts in the same Redis with the sliding-window counter
of the `limits` library, so the limit holds for the whole fleet (docs/security.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio
from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

logger = logging.getLogger("crm.gateway.ratelimit")

WINDOW_SECONDS = 60
# Reading one job (an import, an export, a scoring run) is limited on its own: a page showing its
# progress polls it, twice a second or so, and must not spend the caller's budget for the job's
# kind (30 bulk calls a minute) nor be refused by it.
JOB_POLL_CLASS = "jobs.poll"
JOB_POLL_COVERS = "read one import, export or scoring run (a page following its progress)"
_JOB_READS = (("imports", 2), ("exports", 2), ("scoring/runs", 3))


def limit_class(method: str, segments: list[str], route_class: str) -> str:
    """The class whose budget a request spends: its route class, or `jobs.poll` for a job read."""
    if method.upper() in {"GET", "HEAD"}:
        path = "/".join(segments)
        for area, length in _JOB_READS:
            if len(segments) == length and path.startswith(area + "/"):
                return JOB_POLL_CLASS
    return route_class


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after_seconds: int  # until the next request would be allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        """IETF draft RateLimit fields, sent on every response of a limited route."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={WINDOW_SECONDS}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter(Protocol):
    async def acquire(self, principal_key: str, route_class: str, limit: int) -> Decision:
        """Spend one request of `principal_key`'s budget of `limit` a minute in `route_class`."""
        ...

    async def aclose(self) -> None: ...


class TokenBuckets:
    """`limit` requests per minute, refilled continuously, bursts up to `limit`; this process only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def take(self, principal_key: str, route_class: str, limit: int) -> Decision:
        now = self.clock()
        rate = limit / WINDOW_SECONDS
        key = (principal_key, route_class)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(limit), now)
        bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        allowed = bucket.tokens >= 1
        if allowed:
            bucket.tokens -= 1
        return Decision(
            allowed=allowed,
            limit=limit,
            remaining=math.floor(bucket.tokens),
            reset_seconds=math.ceil((limit - bucket.tokens) / rate),
            retry_after_seconds=0 if allowed else max(1, math.ceil((1 - bucket.tokens) / rate)),
        )

    async def acquire(self, principal_key: str, route_class: str, limit: int) -> Decision:
        return self.take(principal_key, route_class, limit)

    async def aclose(self) -> None:
        return None

    def _forget_full(self, now: float) -> None:
        """Drop buckets untouched for a window: they are full again, so forgetting them changes nothing."""
        for key, bucket in list(self._buckets.items()):
            if now - bucket.updated >= WINDOW_SECONDS:
                del self._buckets[key]


class SharedLimits:
    """The same budgets counted in Redis for every gateway process (sliding-window counter).

    Two round trips per request (the hit, then the window's state for the RateLimit headers),
    each bounded by `timeout`. When Redis cannot be reached the process falls back to its own
    token buckets, so that an outage of the limiter's store neither refuses every caller nor
    lifts the limits altogether; a warning is logged once per outage.
    """

    def __init__(self, url: str, *, timeout: float = 0.5, key_prefix: str = "crm-gateway") -> None:
        self._pool = redis.asyncio.ConnectionPool.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        storage = RedisStorage(
            "async+" + url,
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix=key_prefix,
            connection_pool=self._pool,  # type: ignore[arg-type]
        )
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        self._fallback = TokenBuckets()
        self._degraded = False

    async def acquire(self, principal_key: str, route_class: str, limit: int) -> Decision:
        item = RateLimitItemPerMinute(limit)
        try:
            allowed = await self._strategy.hit(item, route_class, principal_key)
            stats = await self._strategy.get_window_stats(item, route_class, principal_key)
        except StorageError as exc:
            if not self._degraded:
                logger.warning("rate-limit store unreachable; counting in this process", extra={"error": repr(exc)})
                self._degraded = True
            return self._fallback.take(principal_key, route_class, limit)
        if self._degraded:
            logger.info("rate-limit store reachable again")
            self._degraded = False
        until_reset = max(0, math.ceil(stats.reset_time - time.time()))
        return Decision(
            allowed=allowed,
            limit=limit,
            remaining=stats.remaining,
            reset_seconds=until_reset,
            retry_after_seconds=0 if allowed else max(1, until_reset),
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def rate_limiter(redis_url: str | None, key_prefix: str = "crm-gateway") -> RateLimiter:
    return SharedLimits(redis_url, key_prefix=key_prefix) if redis_url else TokenBuckets()


def limits_markdown(limits: Mapping[str, int], default: int, classes: Mapping[str, str]) -> str:
    """The table of docs/api.md: every route class (`classes` maps it to what it covers) with its
    default limit per minute, and the classes that exist only in `limits` (sign-in)."""
    lines = ["| route class | requests a minute | covers |", "| --- | ---: | --- |"]
    described = dict(classes) | {JOB_POLL_CLASS: JOB_POLL_COVERS}
    described |= {name: "sign-in, refresh and logout, per client address" for name in limits if name not in described}
    for name, covers in described.items():
        lines.append(f"| `{name}` | {limits.get(name, default)} | {covers} |")
    return "\n".join(lines)
