"""Rate limits: a token bucket per (principal, route class), kept in this process's memory.

In memory on purpose: checking a limit must not cost a database round trip on every request.
The price is that each replica counts on its own, so N gateway replicas behind a load balancer
let a caller make up to N times the configured rate (docs/security.md says so).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60


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


class TokenBuckets:
    """`limit` requests per minute, refilled continuously, bursts up to `limit`."""

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

    def _forget_full(self, now: float) -> None:
        """Drop buckets untouched for a window: they are full again, so forgetting them changes nothing."""
        for key, bucket in list(self._buckets.items()):
            if now - bucket.updated >= WINDOW_SECONDS:
                del self._buckets[key]
